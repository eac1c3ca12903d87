//! Forward and backward of the warp ([`mod@crate::warp`]) on the host, for Burn's flex backend.
//! The kernel works on plain data: the inputs ([`WarpInputs`]) and where every frame goes
//! ([`WarpSpec`], from the caller's plan).
//!
//! Why: on flex, the portable warp is a dozen tensor passes, index-adds and a gather, plus a
//! host round trip for the max's arg-max. Here one pass per sample builds all three outputs
//! (mean, max, resolution encoding) and the per-frame energies, and the backward pass is one
//! more pass: O(B T F) work in both directions, with the batch spread over the rayon pool.
//!
//! The arithmetic follows the portable path exactly (same `f32` products, same order of the
//! max's candidates, so the same arg-max on ties): with `v = exp(x - m)` (`m` the sample's
//! maximum over valid frames), `w_next = relu(overhang)` and `w_first = s - w_next`, frame `j`
//! adds `w_first v_j` to its first output row and, when it crosses into the next one,
//! `w_next v_j` there. The score gradient goes through the cumulative sum:
//! `d/ds_i = g_first_i + sum_{j >= i, crossing} (g_next_j - g_first_j)`.

use rayon::prelude::*;

use super::fastmath;
use super::strided::Strided3;
use crate::constants::LOG_EPS;

/// Sizes of a warp.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WarpDims {
    pub batch: usize,
    pub frames: usize,
    pub out_frames: usize,
    pub mels: usize,
}

/// Each frame's two output rows and how far it reaches into the second, `[B, T]` each.
#[derive(Clone, Copy)]
pub(crate) struct Routes<'a> {
    /// Global row `b (t + 1) + k` of the frame's first output frame; row `t` of a sample is a
    /// sink (weight past the end, dropped).
    pub first_row: &'a [i64],
    /// Global row of the next output frame.
    pub second_row: &'a [i64],
    /// How far the frame reaches into its second row (not at all when `<= 0`).
    pub overhang: &'a [f32],
}

/// The warp's input data.
#[derive(Clone, Copy)]
pub(crate) struct WarpInputs<'a> {
    /// The log spectrogram, `[B, T, F]`.
    pub x: Strided3<'a>,
    /// The normalised scores, `[B, T]`.
    pub score: &'a [f32],
    /// The positional encoding of the input frames, `[T, F]`.
    pub positions: &'a [f32],
}

/// What the warp does with its inputs, as plain data: where every frame goes, each sample's
/// valid length and the reduction rate.
#[derive(Clone, Copy)]
pub(crate) struct WarpSpec<'a> {
    /// Each frame's output rows and overhang.
    pub routes: Routes<'a>,
    /// Valid frames of each sample, `B` values.
    pub lengths: &'a [usize],
    /// The reduction rate; the max is scaled by `1 / (1 - delta)`.
    pub delta: f64,
}

/// The log transform of one sample: `log(v) = ln(v scale + eps_shift) + top`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LogScale {
    pub shift: f32,
    pub scale: f32,
    pub eps_shift: f32,
    pub top: f32,
}

impl LogScale {
    /// From the sample's maximum `m`, as the portable path computes it (in `f64`, then `f32`).
    pub fn new(shift: f32) -> Self {
        let ln_eps = LOG_EPS.ln();
        let top = (shift as f64).max(ln_eps);
        Self {
            shift,
            scale: (shift as f64 - top).exp() as f32,
            eps_shift: (ln_eps - top).exp().max(1e-37) as f32,
            top: top as f32,
        }
    }

    fn log(&self, v: f32) -> f32 {
        fastmath::ln(v * self.scale + self.eps_shift) + self.top
    }

    /// `d log / d v` at the `v` whose log is `out`: `scale / (v scale + eps_shift)`, and
    /// `v scale + eps_shift = exp(out - top)`, so the linear values need not be kept.
    fn slope_at(&self, out: f32) -> f32 {
        self.scale * fastmath::exp(self.top - out)
    }
}

/// Everything the backward pass needs beyond the inputs.
pub(crate) struct WarpSaved {
    pub scales: Vec<LogScale>,
    /// Winner of each max element: `j` for frame `j`'s first share, `T + j` for its second,
    /// [`NONE`] for a row without sources. `[B, t, F]`.
    pub winners: Vec<u32>,
}

impl std::fmt::Debug for WarpSaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarpSaved")
            .field("elements", &self.winners.len())
            .finish()
    }
}

/// No source reached this output element.
pub(crate) const NONE: u32 = u32::MAX;

/// Output of the forward pass.
pub(crate) struct WarpForward {
    /// `[B, 3, t, F]`: mean, max (both log), resolution encoding.
    pub feature: Vec<f32>,
    /// `[B, T]`: mean of `v` over the mel bins, 0 on padding.
    pub energy: Vec<f32>,
    pub saved: WarpSaved,
}

/// The maximum of `x` over each sample's valid frames.
fn sample_max(x: Strided3<'_>, b: usize, length: usize, mels: usize) -> f32 {
    let mut best = -1e30f32;
    let mut scratch = vec![0.0f32; mels];
    for j in 0..length {
        let row = match x.row_slice(b, j, mels) {
            Some(row) => row,
            None => {
                x.row(b, j, &mut scratch);
                &scratch
            }
        };
        best = best.max(fastmath::max(row));
    }
    best
}

/// `v = exp(x - m)` of sample `b` into `buf` (`[T, F]`), 0 past the valid length.
fn linear_sample(
    x: Strided3<'_>,
    b: usize,
    length: usize,
    shift: f32,
    dims: &WarpDims,
    buf: &mut [f32],
) {
    let mels = dims.mels;
    for j in 0..dims.frames {
        let row = &mut buf[j * mels..(j + 1) * mels];
        if j < length {
            x.row(b, j, row);
            for v in row.iter_mut() {
                *v = fastmath::exp(*v - shift);
            }
        } else {
            row.fill(0.0);
        }
    }
}

/// Frame `i`'s shares `(w_first, w_next)` and whether it crosses into its second row.
fn shares(score: f32, overhang: f32) -> (f32, f32, bool) {
    let crossing = overhang > 0.0;
    let w_next = if crossing { overhang } else { 0.0 };
    (score - w_next, w_next, crossing)
}

/// The warp's forward pass.
pub(crate) fn forward(
    dims: &WarpDims,
    inputs: &WarpInputs<'_>,
    spec: &WarpSpec<'_>,
) -> WarpForward {
    let WarpInputs {
        x,
        score,
        positions,
    } = *inputs;
    let WarpSpec {
        routes,
        lengths,
        delta,
    } = *spec;
    let WarpDims {
        batch,
        frames,
        out_frames: t,
        mels,
    } = *dims;
    let plane = t * mels;
    let max_scale = (1.0 / (1.0 - delta)) as f32;
    let mut feature = vec![0.0f32; batch * 3 * plane];
    let mut energy = vec![0.0f32; batch * frames];
    let mut winners = vec![NONE; batch * plane];
    let scales: Vec<LogScale> = feature
        .par_chunks_mut(3 * plane)
        .zip(energy.par_chunks_mut(frames))
        .zip(winners.par_chunks_mut(plane))
        .enumerate()
        .map(|(b, ((feature, energy), arg))| {
            let scale = LogScale::new(sample_max(x, b, lengths[b], mels));
            let mut v = vec![0.0f32; frames * mels];
            linear_sample(x, b, lengths[b], scale.shift, dims, &mut v);
            // The linear sums and maxima are built in the output planes, then logged in place.
            let (mean, rest) = feature.split_at_mut(plane);
            let (best, resolution) = rest.split_at_mut(plane);
            best.fill(f32::NEG_INFINITY);
            let base = (b * (t + 1)) as i64;
            // First shares of every frame, then second shares: the portable path's order of
            // candidates for the max, so ties resolve to the same winner.
            for half in 0..2 {
                for j in 0..frames {
                    let i = b * frames + j;
                    let (w_first, w_next, crossing) = shares(score[i], routes.overhang[i]);
                    let (w, row) = if half == 0 {
                        (w_first, routes.first_row[i])
                    } else if crossing {
                        (w_next, routes.second_row[i])
                    } else {
                        continue;
                    };
                    let k = (row - base) as usize;
                    if k >= t {
                        continue; // the sink row
                    }
                    let src = &v[j * mels..(j + 1) * mels];
                    let pos = &positions[j * mels..(j + 1) * mels];
                    let out = k * mels..(k + 1) * mels;
                    for (((m, r), &sv), &e) in mean[out.clone()]
                        .iter_mut()
                        .zip(&mut resolution[out.clone()])
                        .zip(src)
                        .zip(pos)
                    {
                        *m += sv * w;
                        *r += e * w;
                    }
                    let id = (half * frames + j) as u32;
                    for ((bst, a), &sv) in best[out.clone()].iter_mut().zip(&mut arg[out]).zip(src)
                    {
                        let p = sv * w;
                        if p > *bst {
                            *bst = p;
                            *a = id;
                        }
                    }
                }
            }
            for (e, row) in energy.iter_mut().zip(v.chunks(mels)) {
                *e = row.iter().sum::<f32>() / mels as f32;
            }
            for (bst, &a) in best.iter_mut().zip(arg.iter()) {
                if a == NONE {
                    *bst = 0.0;
                }
            }
            for m in mean.iter_mut() {
                *m = scale.log(*m);
            }
            for m in best.iter_mut() {
                *m = scale.log(*m * max_scale);
            }
            scale
        })
        .collect();
    WarpForward {
        feature,
        energy,
        saved: WarpSaved { scales, winners },
    }
}

/// Gradients of the warp. `None` where not asked for.
pub(crate) struct WarpGrads {
    pub x: Option<Vec<f32>>,
    pub score: Vec<f32>,
    pub positions: Option<Vec<f32>>,
}

/// Backward of [`forward`] given its output `feature` and `grad` (both `[B, 3, t, F]`). The
/// gradients of `x` and `positions` are computed only when asked for (`want_x`,
/// `want_positions`).
pub(crate) fn backward(
    dims: &WarpDims,
    inputs: &WarpInputs<'_>,
    spec: &WarpSpec<'_>,
    saved: &WarpSaved,
    feature: &[f32],
    grad: &[f32],
    (want_x, want_positions): (bool, bool),
) -> WarpGrads {
    let WarpInputs {
        x,
        score,
        positions,
    } = *inputs;
    let WarpSpec {
        routes,
        lengths,
        delta,
    } = *spec;
    let WarpDims {
        batch,
        frames,
        out_frames: t,
        mels,
    } = *dims;
    let plane = t * mels;
    let max_scale = (1.0 / (1.0 - delta)) as f32;
    let mut grad_score = vec![0.0f32; batch * frames];
    let mut grad_x = if want_x {
        vec![0.0f32; batch * frames * mels]
    } else {
        Vec::new()
    };
    let mut x_chunks: Vec<&mut [f32]> = if want_x {
        grad_x.chunks_mut(frames * mels).collect()
    } else {
        (0..batch).map(|_| <&mut [f32]>::default()).collect()
    };
    grad_score
        .par_chunks_mut(frames)
        .zip(x_chunks.par_iter_mut())
        .enumerate()
        .for_each(|(b, (grad_s, grad_x))| {
            let scale = saved.scales[b];
            let mut v = vec![0.0f32; frames * mels];
            linear_sample(x, b, lengths[b], scale.shift, dims, &mut v);
            let g = &grad[b * 3 * plane..(b + 1) * 3 * plane];
            let (g_mean, rest) = g.split_at(plane);
            let (g_max, g_res) = rest.split_at(plane);
            let out = b * plane..(b + 1) * plane;
            // Gradients with respect to the linear sums.
            let y = &feature[b * 3 * plane..(b + 1) * 3 * plane];
            let g_sum: Vec<f32> = g_mean
                .iter()
                .zip(&y[..plane])
                .map(|(&g, &o)| g * scale.slope_at(o))
                .collect();
            let g_top: Vec<f32> = g_max
                .iter()
                .zip(&y[plane..2 * plane])
                .map(|(&g, &o)| g * max_scale * scale.slope_at(o))
                .collect();
            let mut g_v = if want_x {
                vec![0.0f32; frames * mels]
            } else {
                Vec::new()
            };
            let mut g_first = vec![0.0f32; frames];
            let mut g_next = vec![0.0f32; frames];
            let base = (b * (t + 1)) as i64;
            for j in 0..frames {
                let i = b * frames + j;
                let (w_first, w_next, crossing) = shares(score[i], routes.overhang[i]);
                let src = &v[j * mels..(j + 1) * mels];
                let pos = &positions[j * mels..(j + 1) * mels];
                for (half, w) in [(0, w_first), (1, w_next)] {
                    if half == 1 && !crossing {
                        continue;
                    }
                    let row = if half == 0 {
                        routes.first_row[i]
                    } else {
                        routes.second_row[i]
                    };
                    let k = (row - base) as usize;
                    if k >= t {
                        continue;
                    }
                    let cells = k * mels..(k + 1) * mels;
                    let gs = &g_sum[cells.clone()];
                    let gr = &g_res[cells];
                    let mut acc = 0.0f32;
                    for f in 0..mels {
                        acc += gs[f] * src[f] + gr[f] * pos[f];
                    }
                    if half == 0 {
                        g_first[j] += acc;
                    } else {
                        g_next[j] += acc;
                    }
                    if want_x {
                        for (gv, &g) in g_v[j * mels..(j + 1) * mels].iter_mut().zip(gs) {
                            *gv += w * g;
                        }
                    }
                }
            }
            // The max: each element's gradient goes to its winning source.
            let arg = &saved.winners[out];
            for (cell, (&a, &g)) in arg.iter().zip(&g_top).enumerate() {
                if a == NONE {
                    continue;
                }
                let (half, j) = ((a as usize) / frames, (a as usize) % frames);
                let f = cell % mels;
                let i = b * frames + j;
                let (w_first, w_next, _) = shares(score[i], routes.overhang[i]);
                let value = v[j * mels + f];
                if half == 0 {
                    g_first[j] += g * value;
                } else {
                    g_next[j] += g * value;
                }
                if want_x {
                    g_v[j * mels + f] += g * if half == 0 { w_first } else { w_next };
                }
            }
            // Through the cumulative sum: d/ds_i = g_first_i + sum_{j >= i, crossing}
            // (g_next_j - g_first_j).
            let mut tail = 0.0f64;
            for j in (0..frames).rev() {
                let i = b * frames + j;
                if routes.overhang[i] > 0.0 {
                    tail += (g_next[j] - g_first[j]) as f64;
                }
                grad_s[j] = g_first[j] + tail as f32;
            }
            if want_x {
                for ((gx, &gv), &v) in grad_x.iter_mut().zip(&g_v).zip(&v) {
                    *gx = gv * v;
                }
            }
        });
    drop(x_chunks);
    let positions = want_positions.then(|| {
        // Frame by frame (summing over the batch in order), so the result does not depend on
        // thread scheduling.
        let mut grad_positions = vec![0.0f32; frames * mels];
        grad_positions
            .par_chunks_mut(mels)
            .enumerate()
            .for_each(|(j, out)| {
                for b in 0..batch {
                    let i = b * frames + j;
                    let (w_first, w_next, crossing) = shares(score[i], routes.overhang[i]);
                    let base = (b * (t + 1)) as i64;
                    let g_res = &grad[b * 3 * plane + 2 * plane..(b + 1) * 3 * plane];
                    for (w, row, used) in [
                        (w_first, routes.first_row[i], true),
                        (w_next, routes.second_row[i], crossing),
                    ] {
                        let k = (row - base) as usize;
                        if used && k < t {
                            for (o, &g) in out.iter_mut().zip(&g_res[k * mels..(k + 1) * mels]) {
                                *o += w * g;
                            }
                        }
                    }
                }
            });
        grad_positions
    });
    WarpGrads {
        x: want_x.then_some(grad_x),
        score: grad_score,
        positions,
    }
}
