//! Average pooling without padding on the host (the compact CNN's 2x2 pools), forward and
//! backward.
//!
//! The sums are taken in flex's own order (from zero, row by row of the window) and divided
//! by the window's size as flex does, so the outputs and gradients are the same numbers as
//! `avg_pool2d` on flex, bit for bit: swapping the kernel in changes no result. Flex checks the
//! window's bounds and counts its valid cells for every output; without padding every window
//! is whole, which is what makes these loops several times faster.

use diffres::kernel_support::vectorized;
use rayon::prelude::*;

/// Sizes of an average pooling without padding (floor mode): `[batch, channels, h, w]` in,
/// windows of `kernel` moved by `stride`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoolDims {
    pub batch: usize,
    pub channels: usize,
    pub h: usize,
    pub w: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
}

impl PoolDims {
    /// Whether the kernels handle these sizes: a non-empty window that fits the input.
    pub(crate) fn is_valid(&self) -> bool {
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        kh >= 1 && kw >= 1 && sh >= 1 && sw >= 1 && kh <= self.h && kw <= self.w
    }

    pub(crate) fn h_out(&self) -> usize {
        (self.h - self.kernel[0]) / self.stride[0] + 1
    }

    pub(crate) fn w_out(&self) -> usize {
        (self.w - self.kernel[1]) / self.stride[1] + 1
    }

    /// `[batch, channels, h_out, w_out]`.
    pub(crate) fn out_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.h_out(), self.w_out()]
    }

    fn planes(&self) -> usize {
        self.batch * self.channels
    }

    fn divisor(&self) -> f32 {
        (self.kernel[0] * self.kernel[1]) as f32
    }
}

/// `[B, C, h, w]` -> `[B, C, h_out, w_out]`, each output the mean of its window.
pub(crate) fn forward(d: &PoolDims, x: &[f32]) -> Vec<f32> {
    let (plane_in, plane_out) = (d.h * d.w, d.h_out() * d.w_out());
    debug_assert_eq!(x.len(), d.planes() * plane_in);
    let mut y = vec![0.0f32; d.planes() * plane_out];
    if plane_out == 0 {
        return y;
    }
    y.par_chunks_mut(plane_out)
        .zip(x.par_chunks(plane_in))
        .for_each(|(out, input)| vectorized(|| forward_plane(d, input, out)));
    y
}

#[inline(always)]
fn forward_plane(d: &PoolDims, x: &[f32], y: &mut [f32]) {
    let ([kh, kw], [sh, sw]) = (d.kernel, d.stride);
    let (w_out, divisor) = (d.w_out(), d.divisor());
    for (oh, row) in y.chunks_exact_mut(w_out).enumerate() {
        let top = oh * sh * d.w;
        if kw == 2 && sw == 2 {
            // The compact CNN's case, with the window's row as a pair so the loop vectorises.
            for (ow, out) in row.iter_mut().enumerate() {
                let mut sum = 0.0f32;
                for i in 0..kh {
                    let cell = top + i * d.w + 2 * ow;
                    sum += x[cell];
                    sum += x[cell + 1];
                }
                *out = sum / divisor;
            }
        } else {
            for (ow, out) in row.iter_mut().enumerate() {
                let mut sum = 0.0f32;
                for i in 0..kh {
                    let start = top + i * d.w + ow * sw;
                    for &v in &x[start..start + kw] {
                        sum += v;
                    }
                }
                *out = sum / divisor;
            }
        }
    }
}

/// The input's gradient from the output's: each output's gradient divided by the window's
/// size and added to every cell of its window (in output order, as flex adds them).
pub(crate) fn backward(d: &PoolDims, dy: &[f32]) -> Vec<f32> {
    let (plane_in, plane_out) = (d.h * d.w, d.h_out() * d.w_out());
    debug_assert_eq!(dy.len(), d.planes() * plane_out);
    let mut dx = vec![0.0f32; d.planes() * plane_in];
    if plane_out == 0 {
        return dx;
    }
    dx.par_chunks_mut(plane_in)
        .zip(dy.par_chunks(plane_out))
        .for_each(|(dx, dy)| vectorized(|| backward_plane(d, dy, dx)));
    dx
}

#[inline(always)]
fn backward_plane(d: &PoolDims, dy: &[f32], dx: &mut [f32]) {
    let ([kh, kw], [sh, sw]) = (d.kernel, d.stride);
    let (w_out, divisor) = (d.w_out(), d.divisor());
    for (oh, row) in dy.chunks_exact(w_out).enumerate() {
        let top = oh * sh * d.w;
        for (ow, &g) in row.iter().enumerate() {
            let share = g / divisor;
            for i in 0..kh {
                let start = top + i * d.w + ow * sw;
                for cell in &mut dx[start..start + kw] {
                    *cell += share;
                }
            }
        }
    }
}
