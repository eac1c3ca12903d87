//! The block's backward pass: the gradients of the eight parameters, and of the input when
//! the graph asks for it.

use rayon::prelude::*;

use super::conv::{conv_input_grad_sample, conv_weight_grad_sample, sample_mask, Padded};
use super::norm::{add_into, first_norm, norm_relu_backward, norm_sums};
use super::{BlockDims, Saved, Weights};
use crate::cpu::strided::Strided3;

/// Gradients of a block: the input's (`None` when the graph did not ask) and the eight
/// parameters', laid out as the parameters themselves.
pub(crate) struct Grads {
    pub input: Option<Vec<f32>>,
    pub params: Weights,
}

/// One sample's share of a convolution's parameter gradients and of the next norm's sums.
/// Shares are merged in sample order, so results do not depend on thread scheduling.
struct ConvAcc {
    weight: Vec<f32>,
    bias: Vec<f32>,
    sums: Vec<f64>,
}

impl ConvAcc {
    fn new(weights: usize, channels: usize, sums: usize) -> Self {
        Self {
            weight: vec![0.0; weights],
            bias: vec![0.0; channels],
            sums: vec![0.0; sums],
        }
    }

    fn merge(mut self, other: Self) -> Self {
        for (a, b) in self.weight.iter_mut().zip(other.weight) {
            *a += b;
        }
        for (a, b) in self.bias.iter_mut().zip(other.bias) {
            *a += b;
        }
        for (a, b) in self.sums.iter_mut().zip(other.sums) {
            *a += b;
        }
        self
    }
}

/// Backward of [`forward_train`](super::forward_train) given `grad_out` (`[B, C_out, T]`). The input gradient is
/// computed only when `input_grad` is set.
pub(crate) fn backward(
    dims: &BlockDims,
    weights: &Weights,
    saved: &Saved,
    input: Strided3<'_>,
    mask: Option<&[f32]>,
    grad_out: &[f32],
    input_grad: bool,
) -> Grads {
    let (cin, cout, frames) = (dims.channels_in, dims.channels_out, dims.frames);
    let sample = cout * frames;
    let count = dims.batch * frames;
    let zeros = || vec![0.0f64; 2 * cout];

    // Norm 2: sums of g and g x_hat over (B, T).
    let sums2 = grad_out
        .par_chunks(sample)
        .zip(saved.relu2.par_chunks(sample))
        .map(|(g, a2)| norm_sums(g, a2, frames, &saved.norm2))
        .collect::<Vec<_>>()
        .into_iter()
        .fold(zeros(), add_into);
    let beta2: Vec<f32> = sums2[..cout].iter().map(|&v| v as f32).collect();
    let gamma2: Vec<f32> = sums2[cout..].iter().map(|&v| v as f32).collect();

    // Conv 2 and the gradient reaching h1 (the residual path plus conv 2's input gradient).
    let mut grad_h1 = vec![0.0f32; dims.batch * sample];
    let acc2 = grad_h1
        .par_chunks_mut(sample)
        .enumerate()
        .map(|(b, g_h1)| {
            let mut acc = ConvAcc::new(weights.conv2.len(), cout, 2 * cout);
            let rows = b * sample..(b + 1) * sample;
            let mut g_z2 = grad_out[rows.clone()].to_vec();
            norm_relu_backward(
                &mut g_z2,
                &saved.relu2[rows.clone()],
                frames,
                &saved.norm2,
                &weights.gamma2,
                &sums2,
                count,
            );
            let sample_mask = sample_mask(mask, b, frames);
            let h1 = first_norm(&saved.relu1[rows.clone()], frames, &saved.norm1, weights);
            let padded = Padded::new(
                Strided3::contiguous(&h1, cout, frames),
                0,
                cout,
                dims,
                sample_mask,
            );
            drop(h1);
            conv_weight_grad_sample(
                &g_z2,
                &padded,
                (cout, cout),
                dims,
                &mut acc.weight,
                &mut acc.bias,
            );
            drop(padded);
            let mut buf = vec![0.0f32; cout * dims.padded()];
            conv_input_grad_sample(&weights.conv2, &g_z2, (cout, cout), dims, &mut buf);
            let pad = dims.pad();
            for c in 0..cout {
                let from = &buf[c * dims.padded() + pad..c * dims.padded() + pad + frames];
                let to = &mut g_h1[c * frames..(c + 1) * frames];
                let residual = &grad_out[rows.start + c * frames..rows.start + (c + 1) * frames];
                match sample_mask {
                    Some(m) => {
                        for (((t, &f), &r), &m) in to.iter_mut().zip(from).zip(residual).zip(m) {
                            *t = r + f * m;
                        }
                    }
                    None => {
                        for ((t, &f), &r) in to.iter_mut().zip(from).zip(residual) {
                            *t = r + f;
                        }
                    }
                }
            }
            acc.sums = norm_sums(g_h1, &saved.relu1[rows], frames, &saved.norm1);
            acc
        })
        .collect::<Vec<_>>()
        .into_iter()
        .reduce(ConvAcc::merge)
        .expect("a batch of at least one sample");
    let sums1 = &acc2.sums;
    let beta1: Vec<f32> = sums1[..cout].iter().map(|&v| v as f32).collect();
    let gamma1: Vec<f32> = sums1[cout..].iter().map(|&v| v as f32).collect();

    // Norm 1, ReLU 1 and conv 1 (its input gradient only if asked for).
    let mut grad_input = if input_grad {
        vec![0.0f32; dims.batch * cin * frames]
    } else {
        Vec::new()
    };
    let in_sample = if input_grad { cin * frames } else { 0 };
    let mut input_chunks: Vec<&mut [f32]> = if input_grad {
        grad_input.chunks_mut(in_sample).collect()
    } else {
        (0..dims.batch).map(|_| <&mut [f32]>::default()).collect()
    };
    let acc1 = grad_h1
        .par_chunks_mut(sample)
        .zip(input_chunks.par_iter_mut())
        .enumerate()
        .map(|(b, (g_z1, g_x))| {
            let mut acc = ConvAcc::new(weights.conv1.len(), cout, 0);
            let rows = b * sample..(b + 1) * sample;
            norm_relu_backward(
                g_z1,
                &saved.relu1[rows],
                frames,
                &saved.norm1,
                &weights.gamma1,
                sums1,
                count,
            );
            let padded = Padded::new(input, b, cin, dims, mask);
            conv_weight_grad_sample(
                g_z1,
                &padded,
                (cin, cout),
                dims,
                &mut acc.weight,
                &mut acc.bias,
            );
            if input_grad {
                drop(padded);
                let mut buf = vec![0.0f32; cin * dims.padded()];
                conv_input_grad_sample(&weights.conv1, g_z1, (cin, cout), dims, &mut buf);
                let pad = dims.pad();
                let sample_mask = sample_mask(mask, b, frames);
                for c in 0..cin {
                    let from = &buf[c * dims.padded() + pad..c * dims.padded() + pad + frames];
                    let to = &mut g_x[c * frames..(c + 1) * frames];
                    to.copy_from_slice(from);
                    if let Some(m) = sample_mask {
                        for (t, &m) in to.iter_mut().zip(m) {
                            *t *= m;
                        }
                    }
                }
            }
            acc
        })
        .collect::<Vec<_>>()
        .into_iter()
        .reduce(ConvAcc::merge)
        .expect("a batch of at least one sample");
    Grads {
        input: input_grad.then_some(grad_input),
        params: Weights {
            conv1: acc1.weight,
            bias1: acc1.bias,
            gamma1,
            beta1,
            conv2: acc2.weight,
            bias2: acc2.bias,
            gamma2,
            beta2,
        },
    }
}
