//! The O(T) frame warp: merge input frames into `t` output frames by their scores.
//!
//! With normalised scores `s` and their cumulative sum `C`, input frame `j` covers the interval
//! `[C_{j-1}, C_j)` on the output axis, and the warp matrix is the overlap
//! `W[k, j] = |[C_{j-1}, C_j) ∩ [k, k+1)|`. That is exactly what the paper's equation 5 followed
//! by its Algorithm 1 computes, but written this way each input frame touches at most two output
//! frames (`s_j <= 1`), so the warp needs O(B·T·F) time and memory instead of the reference's
//! dense `t × T` matrix.
//!
//! The cumulative sum is taken on the host in `f64` (an `f32` cumsum of 10,000 scores is off by
//! ~5e-4), and its gradient is attached with a straight-through term `cumsum(s) - detach(cumsum(s))`,
//! which is zero in value but carries d(C)/d(s).
//!
//! Aggregation follows the reference, on the linear scale `exp(x)`:
//! - mean: `sum_j W[k, j] exp(x_j)`, then `log(· + 1e-12)`;
//! - max: `max_j W[k, j] exp(x_j) / (1 - delta)`, then `log(· + 1e-12)`. The reference bins frames
//!   with a `-1e-2` fudge on the cumulative sum and can put a frame in the wrong row; this is the
//!   true definition (the max over frames that have weight in row `k`);
//! - resolution encoding: `sum_j W[k, j] E_j` with `E` the positional encoding of input frames.
//!
//! Exponentials are taken relative to each sample's maximum and the maximum is added back after
//! the logarithm, so inputs far above `ln(f32::MAX) ≈ 88` do not overflow.

use burn::prelude::*;

use crate::segment::{segment_max, segment_sum};

/// The floor added before the logarithm, as in the reference.
pub const LOG_EPS: f64 = 1e-12;

/// Host-side bookkeeping of a warp: for every input frame, its two output rows and the split of
/// its score between them.
#[derive(Clone, Debug)]
pub struct WarpPlan {
    batch: usize,
    frames: usize,
    out_frames: usize,
    /// Global row (`b * (t + 1) + k`) of each frame's first output frame; row `t` of a sample is
    /// a sink for weight past the end (float rounding only).
    first_row: Vec<i64>,
    /// Global row of the next output frame.
    second_row: Vec<i64>,
    /// `C_j - (k0 + 1)`: how far the frame reaches into the next output frame (negative if not).
    overhang: Vec<f32>,
    /// Cumulative sums, kept for [`WarpPlan::sparse`] and [`WarpPlan::extents`].
    cumsum: Vec<f64>,
    score: Vec<f64>,
}

impl WarpPlan {
    /// Builds the plan from normalised scores (`batch * frames` values, row-major) and `t`.
    pub fn new(score: &[f64], batch: usize, frames: usize, out_frames: usize) -> Self {
        assert_eq!(score.len(), batch * frames, "scores must be [batch, frames]");
        let n = batch * frames;
        let mut first_row = vec![0i64; n];
        let mut second_row = vec![0i64; n];
        let mut overhang = vec![0f32; n];
        let mut cumsum = vec![0f64; n];
        let t = out_frames as i64;
        for b in 0..batch {
            let base = b as i64 * (t + 1);
            let mut before = 0f64;
            for j in 0..frames {
                let i = b * frames + j;
                let after = before + score[i];
                let k0 = (before.floor() as i64).clamp(0, t);
                first_row[i] = base + k0;
                second_row[i] = base + (k0 + 1).min(t);
                overhang[i] = (after - (k0 + 1) as f64) as f32;
                cumsum[i] = after;
                before = after;
            }
        }
        Self {
            batch,
            frames,
            out_frames,
            first_row,
            second_row,
            overhang,
            cumsum,
            score: score.to_vec(),
        }
    }

    /// Output frames `t`.
    pub fn out_frames(&self) -> usize {
        self.out_frames
    }

    /// The non-zero warp weights of sample `b` as `(input frame j, output frame k, W[k, j])`,
    /// in the order of `j`. Weight that rounding pushes past the last output frame is dropped.
    pub fn sparse(&self, b: usize) -> Vec<(usize, usize, f64)> {
        let mut out = Vec::new();
        for j in 0..self.frames {
            let i = b * self.frames + j;
            let after = self.cumsum[i];
            let before = after - self.score[i];
            let k0 = before.floor().max(0.0) as usize;
            for k in [k0, k0 + 1] {
                if k >= self.out_frames {
                    continue;
                }
                let w = (after.min((k + 1) as f64) - before.max(k as f64)).max(0.0);
                if w > 0.0 {
                    out.push((j, k, w));
                }
            }
        }
        out
    }

    /// Where each output frame of sample `b` lies on the input axis, as `(start, end)` in input
    /// frames (fractional): output frame `k` spans the inputs whose cumulative score lies in
    /// `[k, k+1)`. Merged frames are wide, kept frames narrow. For plots.
    pub fn extents(&self, b: usize) -> Vec<(f64, f64)> {
        let position = |level: f64| -> f64 {
            for j in 0..self.frames {
                let i = b * self.frames + j;
                let after = self.cumsum[i];
                if after >= level && self.score[i] > 0.0 {
                    let before = after - self.score[i];
                    return j as f64 + ((level - before) / self.score[i]).clamp(0.0, 1.0);
                }
            }
            self.frames as f64
        };
        (0..self.out_frames)
            .map(|k| (position(k as f64), position((k + 1) as f64)))
            .collect()
    }
}

/// The warp's three outputs, each `[B, t, F]`.
pub struct Warped {
    /// `log(W exp(x) + 1e-12)`.
    pub mean: Tensor<3>,
    /// `log(max_j W[k, j] exp(x_j) / (1 - delta) + 1e-12)`.
    pub max: Tensor<3>,
    /// `W E`.
    pub resolution: Tensor<3>,
    /// The input on the linear scale relative to each sample's maximum, `exp(x - m)`, 0 on
    /// padding: `[B, T, F]`. Used to find empty frames.
    pub linear: Tensor<3>,
}

/// The valid-frame mask `[B, T]` (1 inside each sample's length, 0 after).
pub(crate) fn valid_mask(lengths: &[usize], frames: usize, device: &Device) -> Tensor<2> {
    let mut mask = vec![0f32; lengths.len() * frames];
    for (b, &len) in lengths.iter().enumerate() {
        mask[b * frames..b * frames + len].fill(1.0);
    }
    Tensor::from_data(TensorData::new(mask, [lengths.len(), frames]), device)
}

/// Linear-scale spectrogram relative to each sample's maximum over its valid frames.
pub(crate) struct Linear {
    /// `exp(x - m)`, 0 on padding. `[B, T, F]`.
    pub value: Tensor<3>,
    /// `m`, per sample, `[B, 1, 1]` (detached).
    pub shift: Tensor<3>,
    /// `m` on the host.
    pub shift_host: Vec<f32>,
}

pub(crate) fn to_linear(x: Tensor<3>, valid: &Tensor<2>) -> Linear {
    let [batch, frames, mels] = x.dims();
    let invalid = valid
        .clone()
        .equal_elem(0.0)
        .reshape([batch, frames, 1])
        .expand([batch, frames, mels]);
    let masked = x.mask_fill(invalid, -1e30);
    let shift = masked.clone().detach().max_dim(2).max_dim(1); // [B, 1, 1]
    let shift_host = crate::host::read_f32(&shift);
    Linear {
        value: (masked - shift.clone()).exp(),
        shift,
        shift_host,
    }
}

/// Warps a log spectrogram with normalised scores.
///
/// # Shapes
/// - `x`: `[B, T, F]` log spectrogram (natural log)
/// - `score`: `[B, T]` normalised scores (differentiable), matching `plan`
/// - `positions`: `[T, F]` positional encoding
/// - `lengths`: `B` valid lengths
/// - output: three `[B, t, F]` tensors
pub fn warp(
    x: Tensor<3>,
    score: Tensor<2>,
    plan: &WarpPlan,
    positions: Tensor<2>,
    lengths: &[usize],
    delta: f64,
) -> Warped {
    let [batch, frames, mels] = x.dims();
    assert_eq!((batch, frames), (plan.batch, plan.frames), "plan does not fit x");
    let device = x.device();
    let t = plan.out_frames;
    let n = batch * frames;
    let rows_out = batch * (t + 1);

    let valid = valid_mask(lengths, frames, &device);
    let linear = to_linear(x, &valid);

    // Split of each frame's score between its two output frames, with d/ds through cumsum.
    let cumsum = score.clone().cumsum(1);
    let straight_through = cumsum.clone() - cumsum.detach();
    let overhang = Tensor::<2>::from_data(TensorData::new(plan.overhang.clone(), [batch, frames]), &device);
    let w_next = burn::tensor::activation::relu(overhang + straight_through); // [B, T]
    let w_first = score - w_next.clone(); // [B, T]
    let w_first = w_first.reshape([n, 1]);
    let w_next = w_next.reshape([n, 1]);

    let rows: Vec<i64> = plan.first_row.iter().chain(&plan.second_row).copied().collect();

    // Mean and resolution encoding in one index-add: [B, T, 2F] -> [2N, 2F] -> [B, t, 2F].
    let positions = positions.unsqueeze_dim::<3>(0).expand([batch, frames, mels]);
    let both = Tensor::cat(vec![linear.value.clone(), positions], 2).reshape([n, 2 * mels]);
    let sources = Tensor::cat(vec![both.clone() * w_first.clone(), both * w_next.clone()], 0);
    let summed = segment_sum(sources, &rows, rows_out)
        .reshape([batch, t + 1, 2 * mels])
        .narrow(1, 0, t); // [B, t, 2F]
    let mean_linear = summed.clone().narrow(2, 0, mels);
    let resolution = summed.narrow(2, mels, mels);

    // Max: [2N, F] -> [B, t, F].
    let value = linear.value.clone().reshape([n, mels]);
    let sources = Tensor::cat(vec![value.clone() * w_first, value * w_next], 0);
    let max_linear = segment_max_chunked(sources, &rows, rows_out, batch, frames)
        .reshape([batch, t + 1, mels])
        .narrow(1, 0, t);

    // log(v e^m + eps) = m + log(v + eps e^-m); eps e^-m is kept above f32's smallest normal.
    let eps_shift: Vec<f32> = linear
        .shift_host
        .iter()
        .map(|&m| ((LOG_EPS.ln() - m as f64).exp().max(1e-37)) as f32)
        .collect();
    let eps_shift = Tensor::<3>::from_data(TensorData::new(eps_shift, [batch, 1, 1]), &device);
    let log = |v: Tensor<3>| (v + eps_shift.clone()).log() + linear.shift.clone();
    let max_scale = 1.0 / (1.0 - delta);
    Warped {
        mean: log(mean_linear),
        max: log(max_linear * max_scale),
        resolution,
        linear: linear.value,
    }
}

/// [`segment_max`] tracks source ids as `f32`, exact below 2^24: split very large batches.
fn segment_max_chunked(
    sources: Tensor<2>,
    rows: &[i64],
    rows_out: usize,
    batch: usize,
    frames: usize,
) -> Tensor<2> {
    const LIMIT: usize = 1 << 24;
    let n = batch * frames;
    if 2 * n < LIMIT {
        return segment_max(sources, rows, rows_out, 0.0);
    }
    let per_sample_rows = rows_out / batch;
    let parts = (0..batch)
        .map(|b| {
            let pick: Vec<i64> = (0..2 * frames)
                .map(|i| {
                    let half = i / frames;
                    (half * n + b * frames + i % frames) as i64
                })
                .collect();
            let device = sources.device();
            let index = Tensor::<1, Int>::from_data(TensorData::new(pick.clone(), [pick.len()]), &device);
            let local: Vec<i64> = pick
                .iter()
                .map(|&p| rows[p as usize] - (b * per_sample_rows) as i64)
                .collect();
            segment_max(sources.clone().select(0, index), &local, per_sample_rows, 0.0)
        })
        .collect();
    Tensor::cat(parts, 0)
}
