//! Depthwise 2-D convolution (one filter per channel, no dilation) over NCHW data on the
//! host, forward and backward.
//!
//! Each channel's plane is copied once into its zero-padded form, split by stride phase: at
//! stride `(sh, sw)` phase `(p, q)` holds padded rows `p, p + sh, ...` and columns `q, q + sw,
//! ...`, each phase a `[Hq, Wq]` matrix. Kernel tap `(i, j)` then reads phase `(i % sh, j %
//! sw)` shifted by `(i / sh, j / sw)`, so the output, laid out `Wq` wide, is the sum over taps
//! of one contiguous run of `h_out Wq` values each: long, branch-free loops that vectorise
//! even when the planes are small (EfficientNet's last stages are 8 x 4 with 5 x 5 kernels).
//! The `Wq - w_out` extra columns per row are computed and dropped (forward) or held at zero
//! (backward).

use diffres::kernel_support::vectorized;
use rayon::prelude::*;

use super::geometry::ConvDims;

/// A plane's padded, phase-split layout.
#[derive(Clone, Copy)]
struct Phased {
    sh: usize,
    sw: usize,
    /// Columns of one phase.
    wq: usize,
    /// Values per phase: its `hq wq` values (`hq` rows) plus one row of zeros that the shifted runs may read past
    /// the last row.
    len: usize,
}

impl Phased {
    fn new(d: &ConvDims) -> Self {
        let [sh, sw] = d.stride;
        let hq = (d.h + d.pad[0] + d.pad[1]).div_ceil(sh);
        let wq = (d.w + d.pad[2] + d.pad[3]).div_ceil(sw);
        Self {
            sh,
            sw,
            wq,
            len: (hq + 1) * wq,
        }
    }

    /// Values of all phases.
    fn size(&self) -> usize {
        self.sh * self.sw * self.len
    }

    /// Input row `ih` by column phase: for each phase, `(first input column, where it goes)`;
    /// the row's columns `first, first + sw, ...` go to consecutive places.
    #[inline(always)]
    fn row_runs(self, d: &ConvDims, ih: usize) -> impl Iterator<Item = (usize, usize)> {
        let (r, left, w) = (ih + d.pad[0], d.pad[2], d.w);
        (0..self.sw).filter_map(move |q| {
            // The first padded column at or after `left` in phase `q`.
            let c = left + (q + self.sw - left % self.sw) % self.sw;
            let iw = c - left;
            (iw < w).then(|| {
                let phase = (r % self.sh) * self.sw + q;
                (iw, phase * self.len + (r / self.sh) * self.wq + c / self.sw)
            })
        })
    }

    /// The start of tap `(i, j)`'s run.
    #[inline(always)]
    fn tap(&self, i: usize, j: usize) -> usize {
        ((i % self.sh) * self.sw + j % self.sw) * self.len + (i / self.sh) * self.wq + j / self.sw
    }

    /// Copies one input plane (`[h, w]`) into `buf` (every other value zero).
    #[inline(always)]
    fn fill(&self, d: &ConvDims, plane: &[f32], buf: &mut [f32]) {
        buf.fill(0.0);
        for (ih, row) in plane.chunks_exact(d.w).enumerate() {
            for (iw, at) in self.row_runs(d, ih) {
                if self.sw == 1 {
                    buf[at..at + d.w].copy_from_slice(row);
                    continue;
                }
                for (slot, v) in buf[at..].iter_mut().zip(row[iw..].iter().step_by(self.sw)) {
                    *slot = *v;
                }
            }
        }
    }
}

/// `y[b, c] = conv(x[b, c], weight[c])`: `x` `[batch, c, h, w]`, `weight` `[c, 1, kh, kw]`;
/// returns `[batch, c, h_out, w_out]` (`d.c_in == d.c_out`).
pub(crate) fn forward(d: &ConvDims, x: &[f32], weight: &[f32]) -> Vec<f32> {
    let taps = d.kh * d.kw;
    let (ho, wo) = (d.h_out(), d.w_out());
    let layout = Phased::new(d);
    let run = ho * layout.wq;
    let mut y = vec![0.0f32; d.batch * d.out_sample()];
    y.par_chunks_mut(d.out_plane())
        .zip(x.par_chunks(d.in_plane()))
        .enumerate()
        .for_each_init(
            || (vec![0.0f32; layout.size()], vec![0.0f32; run]),
            |(buf, acc), (plane, (y, x))| {
                vectorized(
                    #[inline(always)]
                    || {
                        let kernel = &weight[(plane % d.c_out) * taps..][..taps];
                        layout.fill(d, x, buf);
                        acc.fill(0.0);
                        for i in 0..d.kh {
                            for j in 0..d.kw {
                                let tap = kernel[i * d.kw + j];
                                let src = &buf[layout.tap(i, j)..][..run];
                                for (o, v) in acc.iter_mut().zip(src) {
                                    *o += tap * v;
                                }
                            }
                        }
                        for (out, row) in y.chunks_exact_mut(wo).zip(acc.chunks_exact(layout.wq)) {
                            out.copy_from_slice(&row[..wo]);
                        }
                    },
                )
            },
        );
    y
}

/// The gradients of [`forward`] given `dy` (`[batch, c, h_out, w_out]`): the input's (when
/// `want_input`) and the weight's (`[c, 1, kh, kw]`, each channel's summed over the batch in
/// sample order).
pub(crate) fn backward(
    d: &ConvDims,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    want_input: bool,
) -> (Option<Vec<f32>>, Vec<f32>) {
    let dx = want_input.then(|| input_grad(d, weight, dy));
    (dx, weight_grad(d, x, dy))
}

/// `dy` of one plane laid out `wq` wide, the extra columns zero.
fn widen(d: &ConvDims, layout: &Phased, dy: &[f32], out: &mut [f32]) {
    let wo = d.w_out();
    for (row, grad) in out.chunks_exact_mut(layout.wq).zip(dy.chunks_exact(wo)) {
        row[..wo].copy_from_slice(grad);
        row[wo..].fill(0.0);
    }
}

fn input_grad(d: &ConvDims, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    let taps = d.kh * d.kw;
    let layout = Phased::new(d);
    let run = d.h_out() * layout.wq;
    let mut dx = vec![0.0f32; d.batch * d.in_sample()];
    dx.par_chunks_mut(d.in_plane())
        .zip(dy.par_chunks(d.out_plane()))
        .enumerate()
        .for_each_init(
            || (vec![0.0f32; layout.size()], vec![0.0f32; run]),
            |(buf, grad), (plane, (dx, dy))| {
                vectorized(
                    #[inline(always)]
                    || {
                        let kernel = &weight[(plane % d.c_out) * taps..][..taps];
                        widen(d, &layout, dy, grad);
                        buf.fill(0.0);
                        for i in 0..d.kh {
                            for j in 0..d.kw {
                                let tap = kernel[i * d.kw + j];
                                let dst = &mut buf[layout.tap(i, j)..][..run];
                                for (o, g) in dst.iter_mut().zip(grad.iter()) {
                                    *o += tap * g;
                                }
                            }
                        }
                        for (ih, row) in dx.chunks_exact_mut(d.w).enumerate() {
                            for (iw, at) in layout.row_runs(d, ih) {
                                if layout.sw == 1 {
                                    row.copy_from_slice(&buf[at..at + d.w]);
                                    continue;
                                }
                                for (v, slot) in
                                    row[iw..].iter_mut().step_by(layout.sw).zip(&buf[at..])
                                {
                                    *v = *slot;
                                }
                            }
                        }
                    },
                )
            },
        );
    dx
}

/// `sum a b` in 16 `f32` lanes added in `f64` (plain loops: they must inline into
/// [`vectorized`]'s target).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f64 {
    const LANES: usize = 16;
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let mut total = 0.0f64;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        total += (x * y) as f64;
    }
    for (xa, xb) in ca.zip(cb) {
        for k in 0..LANES {
            acc[k] += xa[k] * xb[k];
        }
    }
    for v in acc {
        total += v as f64;
    }
    total
}

fn weight_grad(d: &ConvDims, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let taps = d.kh * d.kw;
    let layout = Phased::new(d);
    let run = d.h_out() * layout.wq;
    let per_channel: Vec<Vec<f32>> = (0..d.c_out)
        .into_par_iter()
        .map_init(
            || (vec![0.0f32; layout.size()], vec![0.0f32; run]),
            |(buf, grad), c| {
                vectorized(
                    #[inline(always)]
                    || {
                        let mut sums = vec![0.0f64; taps];
                        for b in 0..d.batch {
                            let plane = b * d.c_out + c;
                            layout.fill(d, &x[plane * d.in_plane()..][..d.in_plane()], buf);
                            widen(
                                d,
                                &layout,
                                &dy[plane * d.out_plane()..][..d.out_plane()],
                                grad,
                            );
                            for i in 0..d.kh {
                                for j in 0..d.kw {
                                    sums[i * d.kw + j] +=
                                        dot(grad, &buf[layout.tap(i, j)..][..run]);
                                }
                            }
                        }
                        let mut out = vec![0.0f32; taps];
                        for (o, v) in out.iter_mut().zip(&sums) {
                            *o = *v as f32;
                        }
                        out
                    },
                )
            },
        )
        .collect();
    per_channel.concat()
}

#[cfg(test)]
mod tests {
    use super::super::geometry::test_support::{close, values};
    use super::*;

    /// Depthwise convolution and its gradients by definition.
    fn reference(d: &ConvDims, x: &[f32], w: &[f32], dy: &[f32]) -> [Vec<f32>; 3] {
        let (ho, wo) = (d.h_out(), d.w_out());
        let mut y = vec![0.0f64; d.batch * d.out_sample()];
        let mut dx = vec![0.0f64; x.len()];
        let mut dw = vec![0.0f64; w.len()];
        for b in 0..d.batch {
            for c in 0..d.c_out {
                for oh in 0..ho {
                    for ow in 0..wo {
                        let yi = ((b * d.c_out + c) * ho + oh) * wo + ow;
                        for i in 0..d.kh {
                            for j in 0..d.kw {
                                let ih = (oh * d.stride[0] + i) as isize - d.pad[0] as isize;
                                let iw = (ow * d.stride[1] + j) as isize - d.pad[2] as isize;
                                if ih < 0 || iw < 0 || ih >= d.h as isize || iw >= d.w as isize {
                                    continue;
                                }
                                let xi =
                                    ((b * d.c_out + c) * d.h + ih as usize) * d.w + iw as usize;
                                let wi = (c * d.kh + i) * d.kw + j;
                                y[yi] += x[xi] as f64 * w[wi] as f64;
                                dx[xi] += w[wi] as f64 * dy[yi] as f64;
                                dw[wi] += x[xi] as f64 * dy[yi] as f64;
                            }
                        }
                    }
                }
            }
        }
        [y, dx, dw].map(|v| v.into_iter().map(|v| v as f32).collect())
    }

    #[test]
    fn forward_and_backward_match_the_definition() {
        // (batch, channels, h, w, k, stride, pad)
        let cases = [
            (2, 3, 7, 6, 3, [1, 1], [1, 1, 1, 1]),
            (3, 2, 9, 8, 3, [2, 2], [0, 1, 0, 1]),
            (1, 1, 6, 7, 5, [2, 2], [2, 2, 2, 2]),
            (2, 4, 5, 5, 5, [1, 1], [2, 2, 2, 2]),
            (1, 2, 1, 1, 3, [1, 1], [1, 1, 1, 1]),
            (2, 2, 2, 3, 5, [2, 2], [1, 2, 1, 2]),
            (1, 3, 8, 9, 3, [2, 2], [1, 1, 1, 1]),
        ];
        let same = |n: usize, k: usize, s: usize| {
            let total = ((n.div_ceil(s) - 1) * s + k).saturating_sub(n);
            (total / 2, total - total / 2)
        };
        let mut cases = cases.to_vec();
        for h in 1..6 {
            for w in 1..6 {
                for k in [3, 5] {
                    for s in [1, 2] {
                        let ((t, b), (l, r)) = (same(h, k, s), same(w, k, s));
                        cases.push((2, 2, h, w, k, [s, s], [t, b, l, r]));
                    }
                }
            }
        }
        for (batch, c, h, w, k, stride, pad) in cases {
            let d = ConvDims {
                batch,
                c_in: c,
                c_out: c,
                h,
                w,
                kh: k,
                kw: k,
                stride,
                pad,
            };
            assert!(d.is_valid(), "{d:?}");
            let x = values(batch * d.in_sample(), 1);
            let wt = values(c * k * k, 2);
            let dy = values(batch * d.out_sample(), 3);
            let [y_ref, dx_ref, dw_ref] = reference(&d, &x, &wt, &dy);
            let (dx, dw) = backward(&d, &x, &wt, &dy, true);
            close(&forward(&d, &x, &wt), &y_ref, &format!("y {d:?}"));
            close(&dx.unwrap(), &dx_ref, &format!("dx {d:?}"));
            close(&dw, &dw_ref, &format!("dw {d:?}"));
        }
    }
}
