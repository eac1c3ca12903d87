//! The fused filterbank energies on the host: stride-1 "same" filtering of a waveform batch,
//! squared (modulus of complex pairs), pooled at stride `hop`, forward and backward.
//!
//! Work is cut into time blocks (about 4096 samples), one rayon task each, so that a block's
//! filter outputs (`C x L` floats) stay in cache and the `[B, C, N]` filter output is never
//! stored: the forward pass keeps only the pooled `[B, F, T]` energies and the backward pass
//! recomputes each block's filter outputs (cheaper than keeping 82 MB per 10 s clip). Forward
//! tasks own whole frames (their sample ranges overlap by `P - hop`); backward tasks own
//! disjoint sample ranges.
//!
//! The filtering itself is [`Filter`]: a matrix product over a Hankel view of the waveform or
//! overlap-save FFTs. Squaring, pooling and the pooling's transpose are vectorised loops
//! (compiled for AVX-512 or AVX2 + FMA when the CPU has them, see [`vectorized`]).

use rayon::prelude::*;

use super::filter::{Filter, HostAlgorithm, WeightAcc};
use diffres::kernel_support::vectorized;

/// Sizes of one fused call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    /// Clips `B`.
    pub batch: usize,
    /// Samples per clip `N`.
    pub samples: usize,
    /// Kernels `C` (`2 F` for complex pairs: rows `0..F` real, `F..2F` imaginary parts).
    pub channels: usize,
    /// Taps per kernel `K` (odd).
    pub taps: usize,
    /// Pooling window taps `P` (odd).
    pub pool: usize,
    /// Pooling stride.
    pub hop: usize,
    /// Whether kernels come in (real, imaginary) pairs whose squared modulus is pooled.
    pub complex: bool,
    /// Whether one window serves every filter (`[1, P]`) rather than one each (`[F, P]`).
    pub shared_window: bool,
}

impl Dims {
    /// Filters `F`, the energies' channels.
    pub fn filters(&self) -> usize {
        if self.complex {
            self.channels / 2
        } else {
            self.channels
        }
    }
    /// Output frames `T = ceil(N / hop)`.
    pub fn frames(&self) -> usize {
        self.samples.div_ceil(self.hop)
    }
    fn half_taps(&self) -> usize {
        (self.taps - 1) / 2
    }
    fn half_pool(&self) -> usize {
        (self.pool - 1) / 2
    }
    /// Length of a zero-padded clip, `N + K - 1`.
    fn padded(&self) -> usize {
        self.samples + self.taps - 1
    }
    /// Padded clip `b` of [`pad_batch`]'s output.
    fn clip<'a>(&self, xpad: &'a [f32], b: usize) -> &'a [f32] {
        &xpad[b * self.padded()..(b + 1) * self.padded()]
    }
    /// The window of filter `f`.
    fn window<'a>(&self, window: &'a [f32], f: usize) -> &'a [f32] {
        let row = if self.shared_window { 0 } else { f };
        &window[row * self.pool..(row + 1) * self.pool]
    }
}

/// The batch zero-padded by `(K - 1) / 2` each side, `[B, N + K - 1]`.
pub(crate) fn pad_batch(dims: &Dims, x: &[f32]) -> Vec<f32> {
    let (n, h, len) = (dims.samples, dims.half_taps(), dims.padded());
    let mut out = vec![0.0f32; dims.batch * len];
    for (row, clip) in out.chunks_mut(len).zip(x.chunks(n)) {
        row[h..h + n].copy_from_slice(clip);
    }
    out
}

/// Squared output (modulus of the pairs) `[F, L]` of the filter outputs `y` `[C, L]`.
#[inline(always)]
fn power_of(dims: &Dims, y: &[f32], l: usize) -> Vec<f32> {
    let f = dims.filters();
    if dims.complex {
        let (re, im) = y.split_at(f * l);
        re.iter().zip(im).map(|(r, i)| r * r + i * i).collect()
    } else {
        y.iter().map(|v| v * v).collect()
    }
}

/// Taps `p` of the window of frame `t` that fall on samples `s0 .. s0 + l`, as the range of
/// taps and the block index of the first one. Sample `n` carries tap `p = n - t hop + P/2`.
fn overlap(dims: &Dims, t: usize, s0: usize, l: usize) -> Option<(usize, usize, usize)> {
    let start = (t * dims.hop) as isize - dims.half_pool() as isize; // sample of tap 0
    let lo = (s0 as isize - start).max(0);
    let hi = ((s0 + l) as isize - start).min(dims.pool as isize);
    (lo < hi).then(|| (lo as usize, hi as usize, (start + lo) as usize - s0))
}

/// Frames whose windows touch samples `s0 .. s0 + l` (frame `t` covers samples
/// `t hop - P/2 ..= t hop + P/2`).
fn touching_frames(dims: &Dims, s0: usize, l: usize) -> std::ops::Range<usize> {
    let (hop, hp) = (dims.hop, dims.half_pool());
    let first = if s0 > hp { (s0 - hp).div_ceil(hop) } else { 0 };
    let last = ((s0 + l - 1 + hp) / hop + 1).min(dims.frames());
    first.min(last)..last
}

/// Frames per forward task: as many as fit in one block of `block` samples.
fn frames_per_task(dims: &Dims, block: usize) -> usize {
    (block.saturating_sub(dims.pool) / dims.hop + 1).max(1)
}

/// Pooled energies `[B, F, T]`: `E[b, f, t] = sum_p w_f[p] |y_f|^2[b, t hop + p - P/2]`.
/// `xpad` is [`pad_batch`]'s output, `weight` `[C, K]`, `window` `[F or 1, P]`.
pub(crate) fn forward(
    dims: &Dims,
    weight: &[f32],
    window: &[f32],
    xpad: &[f32],
    algorithm: HostAlgorithm,
) -> Vec<f32> {
    let filter = Filter::new(dims, weight, algorithm);
    let (f, frames) = (dims.filters(), dims.frames());
    let per = frames_per_task(dims, filter.block());
    let blocks = frames.div_ceil(per);
    let tasks: Vec<(usize, usize)> = (0..dims.batch)
        .flat_map(|b| (0..blocks).map(move |i| (b, i)))
        .collect();
    let parts: Vec<Vec<f32>> = tasks
        .par_iter()
        .map(|&(b, i)| {
            let (t0, t1) = (i * per, ((i + 1) * per).min(frames));
            let s0 = (t0 * dims.hop).saturating_sub(dims.half_pool());
            let s1 = ((t1 - 1) * dims.hop + dims.half_pool() + 1).min(dims.samples);
            let l = s1 - s0;
            let y = filter.outputs(dims, dims.clip(xpad, b), s0, l);
            vectorized(|| {
                let y = power_of(dims, &y, l);
                let mut out = vec![0.0f32; f * (t1 - t0)];
                for fi in 0..f {
                    let (w, p) = (dims.window(window, fi), &y[fi * l..(fi + 1) * l]);
                    for t in t0..t1 {
                        if let Some((lo, hi, j)) = overlap(dims, t, s0, l) {
                            out[fi * (t1 - t0) + t - t0] = dot(&w[lo..hi], &p[j..j + hi - lo]);
                        }
                    }
                }
                out
            })
        })
        .collect();
    let mut out = vec![0.0f32; dims.batch * f * frames];
    for (&(b, i), part) in tasks.iter().zip(&parts) {
        let (t0, t1) = (i * per, ((i + 1) * per).min(frames));
        for fi in 0..f {
            let dst = (b * f + fi) * frames + t0;
            out[dst..dst + t1 - t0].copy_from_slice(&part[fi * (t1 - t0)..(fi + 1) * (t1 - t0)]);
        }
    }
    out
}

/// Gradients of `sum(grad * E)`; each is `None` when not asked for.
pub(crate) struct Grads {
    /// `[B, N]`.
    pub x: Option<Vec<f32>>,
    /// `[C, K]`.
    pub weight: Option<Vec<f32>>,
    /// `[F or 1, P]`.
    pub window: Option<Vec<f32>>,
}

/// Partial sums of a run of backward tasks (rayon folds tasks into a few of these).
struct Acc {
    weight: Option<WeightAcc>,
    window: Vec<f32>,
    /// `(task, gradient of its padded samples s0 .. s0 + l + K - 1)`.
    xpad: Vec<(usize, Vec<f32>)>,
}

/// The backward pass of [`forward`] for the output gradient `grad` `[B, F, T]`. `want` says
/// which of (input, kernels, window) need a gradient.
pub(crate) fn backward(
    dims: &Dims,
    (weight, window, xpad): (&[f32], &[f32], &[f32]),
    grad: &[f32],
    want: (bool, bool, bool),
    algorithm: HostAlgorithm,
) -> Grads {
    let filter = Filter::new(dims, weight, algorithm);
    let (f, frames, block) = (dims.filters(), dims.frames(), filter.block());
    let blocks = dims.samples.div_ceil(block);
    let tasks: Vec<(usize, usize)> = (0..dims.batch)
        .flat_map(|b| (0..blocks).map(move |i| (b, i)))
        .collect();
    let window_rows = if dims.shared_window { 1 } else { f };
    let empty = || Acc {
        weight: want.1.then(|| filter.weight_acc(dims)),
        window: vec![0.0; if want.2 { window_rows * dims.pool } else { 0 }],
        xpad: Vec::new(),
    };
    let acc = tasks
        .par_iter()
        .enumerate()
        .fold(empty, |mut acc, (task, &(b, i))| {
            let s0 = i * block;
            let l = block.min(dims.samples - s0);
            let xp = dims.clip(xpad, b);
            let mut y = filter.outputs(dims, xp, s0, l);
            // dE/dpower [F, L] (the transposed strided pooling) and the window's gradient,
            // then dE/dy = 2 y dE/dpower in place in `y`.
            vectorized(|| {
                let power = if want.2 {
                    power_of(dims, &y, l)
                } else {
                    Vec::new()
                };
                let mut dpower = vec![0.0f32; f * l];
                for fi in 0..f {
                    let w = dims.window(window, fi);
                    let g = &grad[(b * f + fi) * frames..(b * f + fi + 1) * frames];
                    let dp = &mut dpower[fi * l..(fi + 1) * l];
                    let row = if dims.shared_window { 0 } else { fi };
                    for t in touching_frames(dims, s0, l) {
                        if let Some((lo, hi, j)) = overlap(dims, t, s0, l) {
                            axpy(g[t], &w[lo..hi], &mut dp[j..j + hi - lo]);
                            if want.2 {
                                let p = &power[fi * l + j..fi * l + j + hi - lo];
                                let dw = &mut acc.window[row * dims.pool..(row + 1) * dims.pool];
                                axpy(g[t], p, &mut dw[lo..hi]);
                            }
                        }
                    }
                }
                for (ci, row) in y.chunks_mut(l).enumerate() {
                    let dp = &dpower[(ci % f) * l..(ci % f + 1) * l];
                    for (v, &d) in row.iter_mut().zip(dp) {
                        *v *= 2.0 * d;
                    }
                }
            });
            if let Some(dx) = filter.backward(dims, xp, (s0, l), &y, acc.weight.as_mut(), want.0) {
                acc.xpad.push((task, dx));
            }
            acc
        })
        .reduce(empty, |mut a, b| {
            a.weight = match (a.weight, b.weight) {
                (Some(x), Some(y)) => Some(x.add(y)),
                (x, y) => x.or(y),
            };
            a.window
                .iter_mut()
                .zip(&b.window)
                .for_each(|(x, y)| *x += y);
            a.xpad.extend(b.xpad);
            a
        });
    let x = want.0.then(|| {
        // Overlap-add the tasks' padded-sample gradients, then drop the padding.
        let (n, h, len) = (dims.samples, dims.half_taps(), dims.padded());
        let mut xp = vec![0.0f32; dims.batch * len];
        for (task, part) in &acc.xpad {
            let (b, i) = tasks[*task];
            let start = b * len + i * block;
            xp[start..start + part.len()]
                .iter_mut()
                .zip(part)
                .for_each(|(a, v)| *a += v);
        }
        xp.chunks(len)
            .flat_map(|row| row[h..h + n].to_vec())
            .collect()
    });
    Grads {
        x,
        weight: acc.weight.map(|a| filter.weight_grad(a)),
        window: want.2.then_some(acc.window),
    }
}

/// `sum a[i] b[i]` in eight independent lanes (so the compiler vectorises it).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `y += a x`.
#[inline(always)]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (d, &v) in y.iter_mut().zip(x) {
        *d += a * v;
    }
}
