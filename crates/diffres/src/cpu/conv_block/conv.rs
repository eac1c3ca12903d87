//! The block's convolutions: each is `kernel` strided matrix products per sample over a
//! zero-padded, masked copy of the sample ([`Padded`]), with no unfolded copy.

use super::BlockDims;
use crate::cpu::matmul::{matmul, View, ViewMut};
use crate::cpu::strided::Strided3;

/// One sample's convolution input, zero-padded in time and masked, stored in the layout that
/// reads the source contiguously: channel-major `[C, T + 2 pad]`, or time-major
/// `[T + 2 pad, C]` when the source's channels are adjacent in memory (the importance net's
/// first input is a transposed view of `[B, T, F]`: copying it time-major avoids a strided
/// transpose; the matrix products read either layout through strides).
pub(super) struct Padded {
    data: Vec<f32>,
    channels: usize,
    time_major: bool,
}

impl Padded {
    /// Sample `b` of `input` (`[B, C, T]`) times `mask` (`[B, T]`, indexed with `b`).
    pub(super) fn new(
        input: Strided3<'_>,
        b: usize,
        channels: usize,
        dims: &BlockDims,
        mask: Option<&[f32]>,
    ) -> Self {
        let (frames, pad, padded) = (dims.frames, dims.pad(), dims.padded());
        let mask = mask.map(|m| &m[b * frames..(b + 1) * frames]);
        let [_, sc, st] = input.strides;
        let time_major = sc == 1 && st != 1 && channels > 1;
        let mut data = vec![0.0f32; channels * padded];
        if time_major {
            for t in 0..frames {
                let dst = &mut data[(t + pad) * channels..(t + pad + 1) * channels];
                let start = input.offset + b * input.strides[0] + t * st;
                dst.copy_from_slice(&input.data[start..start + channels]);
                if let Some(mask) = mask {
                    let m = mask[t];
                    for v in dst.iter_mut() {
                        *v *= m;
                    }
                }
            }
        } else {
            for c in 0..channels {
                let dst = &mut data[c * padded + pad..c * padded + pad + frames];
                input.row(b, c, dst);
                if let Some(mask) = mask {
                    for (v, m) in dst.iter_mut().zip(mask) {
                        *v *= m;
                    }
                }
            }
        }
        Self {
            data,
            channels,
            time_major,
        }
    }

    /// Tap `d` as a `[C, T]` matrix (`x[:, t + d dilation]`).
    pub(super) fn tap(&self, d: usize, dims: &BlockDims) -> View<'_> {
        let shift = d * dims.dilation;
        if self.time_major {
            View::new(&self.data, shift * self.channels, 1, self.channels)
        } else {
            View::new(&self.data, shift, dims.padded(), 1)
        }
    }

    /// Tap `d` as a `[T, C]` matrix (the transpose of [`Padded::tap`]).
    pub(super) fn tap_transposed(&self, d: usize, dims: &BlockDims) -> View<'_> {
        let shift = d * dims.dilation;
        if self.time_major {
            View::new(&self.data, shift * self.channels, self.channels, 1)
        } else {
            View::new(&self.data, shift, 1, dims.padded())
        }
    }
}

/// `out = bias + sum_d W[:, :, d] · padded[:, d dilation ..]` for one sample.
pub(super) fn conv_sample(
    weight: &[f32],
    bias: &[f32],
    padded_input: &Padded,
    (cin, cout): (usize, usize),
    dims: &BlockDims,
    out: &mut [f32],
) {
    let (frames, kernel) = (dims.frames, dims.kernel);
    for (row, &b) in out.chunks_mut(frames).zip(bias) {
        row.fill(b);
    }
    for d in 0..kernel {
        matmul(
            (cout, frames, cin),
            ViewMut::new(out, 0, frames, 1),
            View::new(weight, d, cin * kernel, kernel),
            padded_input.tap(d, dims),
            true,
            dims.inner_threads(),
        );
    }
}

/// `grad_weight[:, :, d] += grad_out · padded[:, d dilation ..]^T` and `grad_bias += sum_t`.
pub(super) fn conv_weight_grad_sample(
    grad_out: &[f32],
    padded_input: &Padded,
    (cin, cout): (usize, usize),
    dims: &BlockDims,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
) {
    let (frames, kernel) = (dims.frames, dims.kernel);
    for (gb, row) in grad_bias.iter_mut().zip(grad_out.chunks(frames)) {
        *gb += row.iter().map(|&v| v as f64).sum::<f64>() as f32;
    }
    for d in 0..kernel {
        matmul(
            (cout, cin, frames),
            ViewMut::new(grad_weight, d, cin * kernel, kernel),
            View::new(grad_out, 0, frames, 1),
            padded_input.tap_transposed(d, dims),
            true,
            dims.inner_threads(),
        );
    }
}

/// `grad_padded[:, d dilation ..] += W[:, :, d]^T · grad_out` (the full padded width is
/// written; the caller reads the middle).
pub(super) fn conv_input_grad_sample(
    weight: &[f32],
    grad_out: &[f32],
    (cin, cout): (usize, usize),
    dims: &BlockDims,
    grad_padded: &mut [f32],
) {
    let (frames, kernel, padded) = (dims.frames, dims.kernel, dims.padded());
    grad_padded.fill(0.0);
    for d in 0..kernel {
        matmul(
            (cin, frames, cout),
            ViewMut::new(grad_padded, d * dims.dilation, padded, 1),
            View::new(weight, d, kernel, cin * kernel),
            View::new(grad_out, 0, frames, 1),
            true,
            dims.inner_threads(),
        );
    }
}

/// Sample `b`'s mask.
pub(super) fn sample_mask(mask: Option<&[f32]>, b: usize, frames: usize) -> Option<&[f32]> {
    mask.map(|m| &m[b * frames..(b + 1) * frames])
}
