//! Dense 2-D convolution (one group, no dilation) over NCHW data on the host: forward and
//! backward as matrix products.
//!
//! A 1x1, stride-1, unpadded convolution is one product per sample, `Y_b = W X_b`. Any other
//! is computed a band of output rows at a time: the band's input patches are unfolded into a
//! `[c_in kh kw, rows w_out]` matrix (im2col, at most [`BAND_VALUES`] values, so it stays in
//! cache), multiplied by the weight, and in the backward pass folded back (col2im).
//!
//! Samples run in parallel. The weight gradient is summed in fixed groups of
//! [`SAMPLES_PER_PARTIAL`] samples whose partial sums are added in order, so its value does
//! not depend on the number of threads or on scheduling.

use diffres::kernel_support::{matmul, View, ViewMut};
use rayon::prelude::*;

use super::geometry::ConvDims;

/// The most values an unfolded band holds (1 MiB of `f32`).
const BAND_VALUES: usize = 1 << 18;

/// Samples whose weight gradients are summed together before the partial sums are added.
pub(crate) const SAMPLES_PER_PARTIAL: usize = 4;

/// Whether the convolution is a plain channel mixing (`1x1`, stride 1, no padding).
fn is_pointwise(d: &ConvDims) -> bool {
    d.kh == 1 && d.kw == 1 && d.stride == [1, 1] && d.pad == [0; 4]
}

/// Rows of the unfolded matrix (`c_in kh kw`).
fn taps(d: &ConvDims) -> usize {
    d.c_in * d.kh * d.kw
}

/// Output rows per band.
fn band_rows(d: &ConvDims) -> usize {
    (BAND_VALUES / (taps(d) * d.w_out()).max(1)).clamp(1, d.h_out())
}

/// Threads `gemm` may use inside one sample: all of them when samples are too few to share
/// out, else one.
fn inner_threads(samples: usize) -> usize {
    let threads = rayon::current_num_threads();
    if samples < threads {
        threads
    } else {
        1
    }
}

/// Unfolds output rows `r0..r1` of one sample `x` (`[c_in, h, w]`) into `col`
/// (`[c_in kh kw, (r1 - r0) w_out]`).
fn im2col(d: &ConvDims, x: &[f32], (r0, r1): (usize, usize), col: &mut [f32]) {
    let wo = d.w_out();
    let n = (r1 - r0) * wo;
    for ci in 0..d.c_in {
        let plane = &x[ci * d.in_plane()..][..d.in_plane()];
        for i in 0..d.kh {
            for j in 0..d.kw {
                let row = &mut col[((ci * d.kh + i) * d.kw + j) * n..][..n];
                let (lo, hi) = d.valid_columns(j);
                for (t, oh) in (r0..r1).enumerate() {
                    let dst = &mut row[t * wo..][..wo];
                    let Some(ih) = d.in_row(oh, i) else {
                        dst.fill(0.0);
                        continue;
                    };
                    let src = &plane[ih * d.w..][..d.w];
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    if lo < hi {
                        let first = lo * d.stride[1] + j - d.pad[2];
                        if d.stride[1] == 1 {
                            dst[lo..hi].copy_from_slice(&src[first..first + hi - lo]);
                        } else {
                            for (o, v) in dst[lo..hi]
                                .iter_mut()
                                .zip(src[first..].iter().step_by(d.stride[1]))
                            {
                                *o = *v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adds the unfolded gradient `col` of output rows `r0..r1` back into one sample's input
/// gradient `dx` (`[c_in, h, w]`): the transpose of [`im2col`].
fn col2im(d: &ConvDims, col: &[f32], (r0, r1): (usize, usize), dx: &mut [f32]) {
    let wo = d.w_out();
    let n = (r1 - r0) * wo;
    for ci in 0..d.c_in {
        let plane = &mut dx[ci * d.in_plane()..][..d.in_plane()];
        for i in 0..d.kh {
            for j in 0..d.kw {
                let row = &col[((ci * d.kh + i) * d.kw + j) * n..][..n];
                let (lo, hi) = d.valid_columns(j);
                if lo >= hi {
                    continue;
                }
                for (t, oh) in (r0..r1).enumerate() {
                    let Some(ih) = d.in_row(oh, i) else { continue };
                    let src = &row[t * wo..][lo..hi];
                    let first = lo * d.stride[1] + j - d.pad[2];
                    let dst = &mut plane[ih * d.w..][first..];
                    if d.stride[1] == 1 {
                        for (o, v) in dst.iter_mut().zip(src) {
                            *o += v;
                        }
                    } else {
                        for (o, v) in dst.iter_mut().step_by(d.stride[1]).zip(src) {
                            *o += v;
                        }
                    }
                }
            }
        }
    }
}

/// The bands of output rows.
fn bands(d: &ConvDims) -> impl Iterator<Item = (usize, usize)> {
    let (rows, step) = (d.h_out(), band_rows(d));
    (0..rows)
        .step_by(step)
        .map(move |r0| (r0, (r0 + step).min(rows)))
}

/// `y = conv(x, weight)`: `x` `[batch, c_in, h, w]`, `weight` `[c_out, c_in, kh, kw]`, both
/// row-major; returns `[batch, c_out, h_out, w_out]`.
pub(crate) fn forward(d: &ConvDims, x: &[f32], weight: &[f32]) -> Vec<f32> {
    let (k, plane) = (taps(d), d.out_plane());
    let threads = inner_threads(d.batch);
    let mut y = vec![0.0f32; d.batch * d.out_sample()];
    y.par_chunks_mut(d.out_sample())
        .zip(x.par_chunks(d.in_sample()))
        .for_each(|(y, x)| {
            let w = View::new(weight, 0, k, 1);
            if is_pointwise(d) {
                let dst = ViewMut::new(y, 0, plane, 1);
                matmul(
                    (d.c_out, plane, k),
                    dst,
                    w,
                    View::new(x, 0, plane, 1),
                    false,
                    threads,
                );
                return;
            }
            let mut col = vec![0.0f32; k * band_rows(d) * d.w_out()];
            for (r0, r1) in bands(d) {
                let n = (r1 - r0) * d.w_out();
                im2col(d, x, (r0, r1), &mut col);
                let dst = ViewMut::new(y, r0 * d.w_out(), plane, 1);
                matmul(
                    (d.c_out, n, k),
                    dst,
                    w,
                    View::new(&col, 0, n, 1),
                    false,
                    threads,
                );
            }
        });
    y
}

/// The gradients of [`forward`] given `dy` (`[batch, c_out, h_out, w_out]`): the input's
/// (when `want_input`) and the weight's.
pub(crate) fn backward(
    d: &ConvDims,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    want_input: bool,
) -> (Option<Vec<f32>>, Vec<f32>) {
    let k = taps(d);
    let group_in = SAMPLES_PER_PARTIAL * d.in_sample();
    let group_out = SAMPLES_PER_PARTIAL * d.out_sample();
    let groups = d.batch.div_ceil(SAMPLES_PER_PARTIAL);
    let threads = inner_threads(groups);
    let mut dx = vec![
        0.0f32;
        if want_input {
            d.batch * d.in_sample()
        } else {
            0
        }
    ];
    // One input-gradient chunk per group (empty chunks when the input needs none).
    let mut dx_chunks: Vec<&mut [f32]> = if want_input {
        dx.chunks_mut(group_in).collect()
    } else {
        (0..groups).map(|_| <&mut [f32]>::default()).collect()
    };
    let partials: Vec<Vec<f32>> = dx_chunks
        .par_iter_mut()
        .zip(x.par_chunks(group_in))
        .zip(dy.par_chunks(group_out))
        .map(|((dx, x), dy)| {
            let mut dw = vec![0.0f32; d.c_out * k];
            let mut col = vec![
                0.0f32;
                if is_pointwise(d) {
                    0
                } else {
                    k * band_rows(d) * d.w_out()
                }
            ];
            for (s, (x, dy)) in x
                .chunks(d.in_sample())
                .zip(dy.chunks(d.out_sample()))
                .enumerate()
            {
                let dx = if want_input {
                    Some(&mut dx[s * d.in_sample()..][..d.in_sample()])
                } else {
                    None
                };
                sample_backward(d, (x, weight, dy), dx, &mut dw, &mut col, threads);
            }
            dw
        })
        .collect();
    let mut dw = vec![0.0f32; d.c_out * k];
    for partial in &partials {
        for (total, v) in dw.iter_mut().zip(partial) {
            *total += v;
        }
    }
    (want_input.then_some(dx), dw)
}

/// One sample's part of [`backward`]: adds its weight gradient to `dw` and writes its input
/// gradient to `dx`; `col` is scratch for one band.
fn sample_backward(
    d: &ConvDims,
    (x, weight, dy): (&[f32], &[f32], &[f32]),
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    col: &mut [f32],
    threads: usize,
) {
    let (k, plane) = (taps(d), d.out_plane());
    // W^T as a view: element (tap, channel) = weight[channel k + tap].
    let wt = View::new(weight, 0, 1, k);
    if is_pointwise(d) {
        // dW += dY X^T; dX = W^T dY.
        let xt = View::new(x, 0, 1, plane);
        let dyv = View::new(dy, 0, plane, 1);
        matmul(
            (d.c_out, k, plane),
            ViewMut::new(dw, 0, k, 1),
            dyv,
            xt,
            true,
            threads,
        );
        if let Some(dx) = dx {
            matmul(
                (k, plane, d.c_out),
                ViewMut::new(dx, 0, plane, 1),
                wt,
                dyv,
                false,
                threads,
            );
        }
        return;
    }
    let mut dx = dx;
    for (r0, r1) in bands(d) {
        let n = (r1 - r0) * d.w_out();
        let dyv = View::new(dy, r0 * d.w_out(), plane, 1);
        im2col(d, x, (r0, r1), col);
        matmul(
            (d.c_out, k, n),
            ViewMut::new(dw, 0, k, 1),
            dyv,
            View::new(col, 0, 1, n),
            true,
            threads,
        );
        if let Some(dx) = dx.as_deref_mut() {
            matmul(
                (k, n, d.c_out),
                ViewMut::new(col, 0, n, 1),
                wt,
                dyv,
                false,
                threads,
            );
            col2im(d, col, (r0, r1), dx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::geometry::test_support::{close, values};
    use super::*;

    /// The convolution by its definition, and its gradients by the chain rule, one value at
    /// a time.
    fn reference(d: &ConvDims, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let (ho, wo) = (d.h_out(), d.w_out());
        let mut y = vec![0.0f64; d.batch * d.out_sample()];
        let mut dx = vec![0.0f64; x.len()];
        let mut dw = vec![0.0f64; w.len()];
        for b in 0..d.batch {
            for co in 0..d.c_out {
                for oh in 0..ho {
                    for ow in 0..wo {
                        let yi = ((b * d.c_out + co) * ho + oh) * wo + ow;
                        for ci in 0..d.c_in {
                            for i in 0..d.kh {
                                for j in 0..d.kw {
                                    let ih = (oh * d.stride[0] + i) as isize - d.pad[0] as isize;
                                    let iw = (ow * d.stride[1] + j) as isize - d.pad[2] as isize;
                                    if ih < 0 || iw < 0 || ih >= d.h as isize || iw >= d.w as isize
                                    {
                                        continue;
                                    }
                                    let xi =
                                        ((b * d.c_in + ci) * d.h + ih as usize) * d.w + iw as usize;
                                    let wi = ((co * d.c_in + ci) * d.kh + i) * d.kw + j;
                                    y[yi] += x[xi] as f64 * w[wi] as f64;
                                    dx[xi] += w[wi] as f64 * dy[yi] as f64;
                                    dw[wi] += x[xi] as f64 * dy[yi] as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
        let f = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
        (f(y), f(dx), f(dw))
    }

    #[test]
    fn forward_and_backward_match_the_definition() {
        let cases = [
            // (batch, c_in, c_out, h, w, kh, kw, stride, pad)
            (2, 3, 4, 7, 6, 3, 3, [1, 1], [1, 1, 1, 1]),
            (5, 2, 3, 9, 8, 3, 3, [2, 2], [0, 1, 0, 1]),
            (1, 1, 2, 5, 4, 3, 3, [2, 2], [1, 1, 1, 1]),
            (6, 4, 5, 3, 5, 1, 1, [1, 1], [0, 0, 0, 0]),
            (3, 2, 2, 1, 1, 3, 3, [1, 1], [1, 1, 1, 1]),
            (2, 3, 2, 6, 7, 5, 5, [2, 1], [2, 2, 1, 3]),
            (9, 2, 3, 4, 3, 1, 1, [2, 2], [0, 0, 0, 0]),
            (2, 35, 70, 1, 1, 1, 1, [1, 1], [0, 0, 0, 0]),
            (2, 7, 9, 2, 1, 1, 1, [1, 1], [0, 0, 0, 0]),
            (3, 5, 4, 1, 1, 3, 3, [2, 2], [1, 1, 1, 1]),
        ];
        for (batch, c_in, c_out, h, w, kh, kw, stride, pad) in cases {
            let d = ConvDims {
                batch,
                c_in,
                c_out,
                h,
                w,
                kh,
                kw,
                stride,
                pad,
            };
            assert!(d.is_valid());
            let x = values(batch * d.in_sample(), 1);
            let wt = values(c_out * c_in * kh * kw, 2);
            let dy = values(batch * d.out_sample(), 3);
            let (y_ref, dx_ref, dw_ref) = reference(&d, &x, &wt, &dy);
            close(&forward(&d, &x, &wt), &y_ref, &format!("y {d:?}"));
            let (dx, dw) = backward(&d, &x, &wt, &dy, true);
            close(&dx.unwrap(), &dx_ref, &format!("dx {d:?}"));
            close(&dw, &dw_ref, &format!("dw {d:?}"));
            let (none, dw_again) = backward(&d, &x, &wt, &dy, false);
            assert!(none.is_none());
            assert_eq!(
                dw_again, dw,
                "the weight gradient does not depend on the input's"
            );
        }
    }

    #[test]
    fn bands_cover_every_output_row_once() {
        let d = ConvDims {
            batch: 1,
            c_in: 200,
            c_out: 1,
            h: 50,
            w: 300,
            kh: 3,
            kw: 3,
            stride: [1, 1],
            pad: [1, 1, 1, 1],
        };
        assert!(band_rows(&d) < d.h_out());
        let rows: Vec<usize> = bands(&d).flat_map(|(a, b)| a..b).collect();
        assert_eq!(rows, (0..d.h_out()).collect::<Vec<_>>());
    }
}
