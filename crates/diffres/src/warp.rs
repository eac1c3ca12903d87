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

use burn::tensor::IndexingUpdateOp;

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
    pub(crate) first_row: Vec<i64>,
    /// Global row of the next output frame.
    pub(crate) second_row: Vec<i64>,
    /// `C_j - (k0 + 1)`: how far the frame reaches into the next output frame (negative if not).
    pub(crate) overhang: Vec<f32>,
    /// Cumulative sums, kept for [`WarpPlan::sparse`] and [`WarpPlan::extents`].
    cumsum: Vec<f64>,
    score: Vec<f64>,
}

impl WarpPlan {
    /// Builds the plan from normalised scores (`batch * frames` values, row-major) and `t`.
    pub fn new(score: &[f64], batch: usize, frames: usize, out_frames: usize) -> Self {
        assert_eq!(
            score.len(),
            batch * frames,
            "scores must be [batch, frames]"
        );
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

/// The warp's outputs.
pub struct Warped {
    /// `[B, 3, t, F]`: the mean, max and resolution channels (see [`Warped::mean`],
    /// [`Warped::max`], [`Warped::resolution`]), stacked: DiffRes's feature.
    pub feature: Tensor<4>,
    /// Each input frame's mean linear energy relative to its sample's maximum,
    /// `mean_F exp(x - m)`, 0 on padding (detached): `[B, T]`. Used to find empty frames.
    pub energy: Tensor<2>,
}

impl Warped {
    fn channel(&self, c: usize) -> Tensor<3> {
        let [batch, _, t, mels] = self.feature.dims();
        self.feature
            .clone()
            .narrow(1, c, 1)
            .reshape([batch, t, mels])
    }

    /// `log(W exp(x) + 1e-12)`, `[B, t, F]` (a copy of channel 0 of the feature).
    pub fn mean(&self) -> Tensor<3> {
        self.channel(0)
    }

    /// `log(max_j W[k, j] exp(x_j) / (1 - delta) + 1e-12)`, `[B, t, F]` (channel 1).
    pub fn max(&self) -> Tensor<3> {
        self.channel(1)
    }

    /// `W E`, `[B, t, F]` (channel 2).
    pub fn resolution(&self) -> Tensor<3> {
        self.channel(2)
    }
}

/// The portable warp's outputs (before stacking).
struct PortableWarp {
    mean: Tensor<3>,
    max: Tensor<3>,
    resolution: Tensor<3>,
    /// `exp(x - m)`, 0 on padding, `[B, T, F]`.
    linear: Tensor<3>,
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
    /// `m` on the host.
    pub shift_host: Vec<f32>,
}

pub(crate) fn to_linear(x: Tensor<3>, lengths: &[usize]) -> Linear {
    let [batch, frames, mels] = x.dims();
    let masked = if lengths.iter().all(|&l| l == frames) {
        x
    } else {
        let invalid = valid_mask(lengths, frames, &x.device())
            .equal_elem(0.0)
            .reshape([batch, frames, 1])
            .expand([batch, frames, mels]);
        x.mask_fill(invalid, -1e30)
    };
    // One reduction over each sample's contiguous `T F` values (faster than two).
    let shift = masked
        .clone()
        .detach()
        .reshape([batch, frames * mels])
        .max_dim(1)
        .reshape([batch, 1, 1]);
    let shift_host = crate::host::read_f32(&shift);
    Linear {
        value: (masked - shift).exp(),
        shift_host,
    }
}

/// Warps a log spectrogram with normalised scores.
///
/// On Burn's flex CPU backend this is one fused host operation with its own backward pass
/// (see the `cpu` module); elsewhere it is built from Burn tensor operations. Both give the
/// same values and gradients.
///
/// # Shapes
/// - `x`: `[B, T, F]` log spectrogram (natural log)
/// - `score`: `[B, T]` normalised scores (differentiable), matching `plan`
/// - `positions`: `[T, F]` positional encoding
/// - `lengths`: `B` valid lengths
/// - output: `feature [B, 3, t, F]` and its three channels, `energy [B, T]`
pub fn warp(
    x: Tensor<3>,
    score: Tensor<2>,
    plan: &WarpPlan,
    positions: Tensor<2>,
    lengths: &[usize],
    delta: f64,
) -> Warped {
    let [batch, frames, _] = x.dims();
    assert_eq!(
        (batch, frames),
        (plan.batch, plan.frames),
        "plan does not fit x"
    );
    if let Some((feature, energy)) =
        crate::cpu::warp_op::warp(&x, &score, plan, &positions, lengths, delta)
    {
        return Warped { feature, energy };
    }
    let out = warp_portable(x, score, plan, positions, lengths, delta);
    let energy = out.linear.detach().mean_dim(2).reshape([batch, frames]); // [B, T]
    let feature = Tensor::stack::<4>(vec![out.mean, out.max, out.resolution], 1); // [B, 3, t, F]
    Warped { feature, energy }
}

/// [`warp`] with Burn tensor operations only (any backend).
fn warp_portable(
    x: Tensor<3>,
    score: Tensor<2>,
    plan: &WarpPlan,
    positions: Tensor<2>,
    lengths: &[usize],
    delta: f64,
) -> PortableWarp {
    let [batch, frames, mels] = x.dims();
    let device = x.device();
    let t = plan.out_frames;
    let n = batch * frames;
    let rows_out = batch * (t + 1);

    let linear = to_linear(x, lengths);

    // Split of each frame's score between its two output frames, with d/ds through cumsum.
    let score_host = crate::host::read_f32(&score);
    let cumsum = score.clone().cumsum(1);
    let straight_through = cumsum.clone() - cumsum.detach();
    let overhang = Tensor::<2>::from_data(
        TensorData::new(plan.overhang.clone(), [batch, frames]),
        &device,
    );
    let w_next = burn::tensor::activation::relu(overhang + straight_through); // [B, T]
    let w_first = score - w_next.clone(); // [B, T]
    let w_first = w_first.reshape([n, 1]);
    let w_next = w_next.reshape([n, 1]);

    // Mean and resolution encoding, `sum_j W[k, j] (v_j, E_j)`: every frame adds its first
    // share to its first row; only the frames that reach into the next row (overhang > 0, at
    // most one per output row) add a second share there. Each is one index-add; nothing of
    // size [2N, 2F] is built.
    let index = |rows: Vec<i64>| {
        let len = rows.len();
        Tensor::<1, Int>::from_data(TensorData::new(rows, [len]), &device)
    };
    // The max's arg-max is found on the host, which needs the linear spectrogram there. An
    // untracked one (the usual case: the input is data) is moved out of the device and back,
    // which flex does without copying its 4 B T F bytes; a tracked one must stay in the graph
    // and is copied.
    let (linear_value, winners) = if linear.value.is_tracked() {
        let data = linear.value.to_data().convert::<f32>();
        let winners = max_winners(&data, mels, &score_host, plan);
        (linear.value, winners)
    } else {
        let data = linear.value.into_data().convert::<f32>();
        let winners = max_winners(&data, mels, &score_host, plan);
        (Tensor::from_data(data, &device), winners)
    };
    let value = linear_value.clone().reshape([n, mels]);
    let positions = positions.unsqueeze_dim::<3>(0); // [1, T, F]
    let first_rows = index(plan.first_row.clone());
    let mean_sum = Tensor::<2>::zeros([rows_out, mels], &device).select_assign(
        0,
        first_rows.clone(),
        value.clone() * w_first.clone(),
        IndexingUpdateOp::Add,
    );
    let res_sources =
        (positions.clone() * w_first.clone().reshape([batch, frames, 1])).reshape([n, mels]);
    let res_sum = Tensor::<2>::zeros([rows_out, mels], &device).select_assign(
        0,
        first_rows,
        res_sources,
        IndexingUpdateOp::Add,
    );
    let crossing: Vec<usize> = (0..n).filter(|&i| plan.overhang[i] > 0.0).collect();
    let (mean_sum, res_sum) = if crossing.is_empty() {
        (mean_sum, res_sum)
    } else {
        let m = crossing.len();
        let frames_idx = index(crossing.iter().map(|&i| i as i64).collect());
        let positions_idx = index(crossing.iter().map(|&i| (i % frames) as i64).collect());
        let rows = index(crossing.iter().map(|&i| plan.second_row[i]).collect());
        let share = w_next.clone().select(0, frames_idx.clone()); // [M, 1]
        let value_next = value.clone().select(0, frames_idx) * share.clone();
        let res_next = positions.reshape([frames, mels]).select(0, positions_idx) * share;
        debug_assert_eq!(value_next.dims(), [m, mels]);
        (
            mean_sum.select_assign(0, rows.clone(), value_next, IndexingUpdateOp::Add),
            res_sum.select_assign(0, rows, res_next, IndexingUpdateOp::Add),
        )
    };
    let mean_linear = mean_sum.reshape([batch, t + 1, mels]).narrow(1, 0, t);
    let resolution = res_sum.reshape([batch, t + 1, mels]).narrow(1, 0, t);

    // Max: arg-max on the host, then a differentiable gather.
    let max_linear = gather_max(value, winners, w_first, w_next).reshape([batch, t, mels]);

    // log(v e^m + eps) = M + log(v e^(m - M) + eps e^-M) with M = max(m, ln eps), so that
    // neither factor overflows: for m >= ln eps (any audible input) this is
    // m + log(v + eps e^-m); for inputs far below ln eps (m < -116 would make eps e^-m overflow
    // f32) the result tends to ln eps. eps e^-M is kept above f32's smallest normal.
    let ln_eps = LOG_EPS.ln();
    let top: Vec<f64> = linear
        .shift_host
        .iter()
        .map(|&m| (m as f64).max(ln_eps))
        .collect();
    let per_sample =
        |v: Vec<f32>| Tensor::<3>::from_data(TensorData::new(v, [batch, 1, 1]), &device);
    let value_scale = per_sample(
        linear
            .shift_host
            .iter()
            .zip(&top)
            .map(|(&m, &top)| (m as f64 - top).exp() as f32)
            .collect(),
    );
    let eps_shift = per_sample(
        top.iter()
            .map(|&top| (ln_eps - top).exp().max(1e-37) as f32)
            .collect(),
    );
    let top = per_sample(top.iter().map(|&v| v as f32).collect());
    let log = |v: Tensor<3>| (v * value_scale.clone() + eps_shift.clone()).log() + top.clone();
    let max_scale = 1.0 / (1.0 - delta);
    PortableWarp {
        mean: log(mean_linear),
        max: log(max_linear * max_scale),
        resolution,
        linear: linear_value,
    }
}

/// The arg-max of `max_j W[k, j] v_j` for every output row `k` and mel bin, from the linear
/// spectrogram `value` (`N F` values on the host).
///
/// The maximum and its arg-max are found on the host, from the very `f32` products the device
/// forms (`v * w_first` and `v * w_next`, with `w_next = relu(overhang)` and
/// `w_first = s - w_next`), one pass over the input; [`gather_max`] then gathers the result
/// from the differentiable `v` and weights, so the gradient goes to the winning source only (the
/// first one on ties, as [`crate::segment::segment_max`]), and nothing of size `[2N, F]` is
/// built on the device. Rows without sources are 0. Only the output (`B t F` elements) is
/// touched on the device, forward and backward: a formulation over the inputs (masking the
/// mean's `[N, F]` products) was tried and costs more in the backward pass.
fn max_winners(value: &TensorData, mels: usize, score_host: &[f32], plan: &WarpPlan) -> MaxWinners {
    let (batch, frames, t) = (plan.batch, plan.frames, plan.out_frames);
    let n = batch * frames;
    let value_host = value
        .as_slice::<f32>()
        .expect("a float tensor converts to f32");
    debug_assert_eq!(value_host.len(), n * mels);
    let rows = batch * t;
    // Per output element: the winning source id in `0..2N` (`i` for a frame's first row,
    // `N + i` for its second), or `NONE` when the row has no source.
    const NONE: u32 = u32::MAX;
    assert!(
        2 * n < NONE as usize,
        "too many frames for the warp's max: {n}"
    );
    let mut best = vec![f32::NEG_INFINITY; rows * mels];
    let mut arg = vec![NONE; rows * mels];
    let per_sample = t * mels;
    // The current rayon pool's size, so that a caller's thread bound (the CLI's --threads)
    // holds here too.
    let threads = rayon::current_num_threads().min(batch).max(1);
    let chunk = batch.div_ceil(threads);
    std::thread::scope(|scope| {
        let best_chunks = best.chunks_mut(chunk * per_sample);
        let arg_chunks = arg.chunks_mut(chunk * per_sample);
        for (c, (best, arg)) in best_chunks.zip(arg_chunks).enumerate() {
            scope.spawn(move || {
                let samples = c * chunk..((c + 1) * chunk).min(batch);
                for b in samples.clone() {
                    let local = (b - samples.start) * per_sample;
                    let base = (b * (t + 1)) as i64;
                    // Sources in id order (all first shares, then all second shares) with a
                    // strict `>`: the first winner is kept on ties.
                    for half in 0..2 {
                        for j in 0..frames {
                            let i = b * frames + j;
                            let overhang = plan.overhang[i];
                            let w_next = if overhang > 0.0 { overhang } else { 0.0 };
                            let (w, row) = if half == 0 {
                                (score_host[i] - w_next, plan.first_row[i])
                            } else {
                                (w_next, plan.second_row[i])
                            };
                            let k = (row - base) as usize;
                            if k >= t {
                                continue; // the sink row
                            }
                            let id = (half * n + i) as u32;
                            let src = &value_host[i * mels..(i + 1) * mels];
                            let dst = local + k * mels;
                            let best = &mut best[dst..dst + mels];
                            let arg = &mut arg[dst..dst + mels];
                            for ((&v, best), arg) in
                                src.iter().zip(best.iter_mut()).zip(arg.iter_mut())
                            {
                                let v = v * w;
                                let better = v > *best;
                                *best = if better { v } else { *best };
                                *arg = if better { id } else { *arg };
                            }
                        }
                    }
                }
            });
        }
    });
    drop(best);
    let empty: Vec<bool> = arg.iter().map(|&a| a == NONE).collect();
    let source: Vec<i64> = arg
        .iter()
        .map(|&a| if a == NONE { 0 } else { a as i64 % n as i64 })
        .collect();
    let weight: Vec<i64> = arg
        .iter()
        .map(|&a| if a == NONE { 0 } else { a as i64 })
        .collect();
    drop(arg);
    MaxWinners {
        source,
        weight,
        empty,
        rows,
        mels,
    }
}

/// The arg-max of every output element of the warp's max, found by [`max_winners`].
struct MaxWinners {
    /// Winning input frame (row of `value`), 0 where the row is empty. `[rows * mels]`.
    source: Vec<i64>,
    /// Winning weight: `i` for frame `i`'s first share, `N + i` for its second. `[rows * mels]`.
    weight: Vec<i64>,
    /// Rows without sources. `[rows * mels]`.
    empty: Vec<bool>,
    rows: usize,
    mels: usize,
}

/// `max_j W[k, j] v_j` as `[B t, F]`, gathered from the differentiable `v` (`[N, F]`) and
/// weights (`[N, 1]` each) at the winners: the gradient goes to the winning source only.
fn gather_max(
    value: Tensor<2>,
    winners: MaxWinners,
    w_first: Tensor<2>,
    w_next: Tensor<2>,
) -> Tensor<2> {
    let [n, _] = value.dims();
    let device = value.device();
    let MaxWinners {
        source,
        weight,
        empty,
        rows,
        mels,
    } = winners;
    let source = Tensor::<2, Int>::from_data(TensorData::new(source, [rows, mels]), &device);
    let weight = Tensor::<1, Int>::from_data(TensorData::new(weight, [rows * mels]), &device);
    let empty = Tensor::<2, Bool>::from_data(TensorData::new(empty, [rows, mels]), &device);
    let weights = Tensor::cat(vec![w_first, w_next], 0).reshape([2 * n]);
    let picked = value.gather(0, source);
    let w = weights.select(0, weight).reshape([rows, mels]);
    (picked * w).mask_fill(empty, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn max_rel_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        let a = a.flatten::<1>(0, D - 1);
        let b = b.flatten::<1>(0, D - 1);
        let scale = crate::host::read_f32(&b.clone().abs().max())[0].max(1e-3);
        crate::host::read_f32(&(a - b).abs().max())[0] / scale
    }

    /// The fused flex warp against the portable one: all outputs, the energies and the
    /// gradients with respect to the input, the scores and a learnable encoding, with padding.
    #[test]
    fn fused_warp_matches_the_portable_warp() {
        let device = Device::flex().autodiff();
        device.seed(11);
        let (batch, frames, mels, t, delta) = (3, 23, 5, 9, 0.6);
        let lengths = [23, 17, 9];
        let raw: Vec<f64> = (0..batch * frames)
            .map(|i| 0.05 + ((i * 37) % 11) as f64 / 11.0)
            .collect();
        let mut host = Vec::new();
        for (b, &len) in lengths.iter().enumerate() {
            let row: Vec<f64> = (0..frames)
                .map(|j| if j < len { raw[b * frames + j] } else { 0.0 })
                .collect();
            let mut s = crate::score_norm::exact_sum(&row[..len], t);
            s.resize(frames, 0.0);
            host.extend(s);
        }
        let plan = WarpPlan::new(&host, batch, frames, t);
        let score_values: Vec<f32> = host.iter().map(|&v| v as f32).collect();
        let x = Tensor::<3>::random(
            [batch, frames, mels],
            Distribution::Normal(-4.0, 2.0),
            &device,
        )
        .require_grad();
        let score = Tensor::<2>::from_data(TensorData::new(score_values, [batch, frames]), &device)
            .require_grad();
        let positions =
            Tensor::<2>::random([frames, mels], Distribution::Default, &device).require_grad();
        let weight =
            Tensor::<4>::random([batch, 3, t, mels], Distribution::Normal(0.0, 1.0), &device);

        let fused = warp(
            x.clone(),
            score.clone(),
            &plan,
            positions.clone(),
            &lengths,
            delta,
        );
        let portable = warp_portable(
            x.clone(),
            score.clone(),
            &plan,
            positions.clone(),
            &lengths,
            delta,
        );
        let stacked = Tensor::stack::<4>(
            vec![
                portable.mean.clone(),
                portable.max.clone(),
                portable.resolution.clone(),
            ],
            1,
        );
        assert!(
            max_rel_diff(fused.feature.clone(), stacked.clone()) < 1e-5,
            "feature"
        );
        let energy = portable.linear.clone().mean_dim(2).reshape([batch, frames]);
        assert!(
            max_rel_diff(fused.energy.clone(), energy.detach()) < 1e-5,
            "energy"
        );

        let ga = (fused.feature * weight.clone()).sum().backward();
        let gb = (stacked * weight).sum().backward();
        for (name, a, b) in [
            (
                "x",
                x.grad(&ga).unwrap().flatten::<1>(0, 2),
                x.grad(&gb).unwrap().flatten::<1>(0, 2),
            ),
            (
                "score",
                score.grad(&ga).unwrap().flatten::<1>(0, 1),
                score.grad(&gb).unwrap().flatten::<1>(0, 1),
            ),
            (
                "positions",
                positions.grad(&ga).unwrap().flatten::<1>(0, 1),
                positions.grad(&gb).unwrap().flatten::<1>(0, 1),
            ),
        ] {
            let d = max_rel_diff(a, b);
            assert!(d < 1e-4, "gradient with respect to {name} differs by {d}");
        }

        // Without autodiff.
        let (x, score, positions) = (x.inner(), score.inner(), positions.inner());
        let plain = warp(
            x.clone(),
            score.clone(),
            &plan,
            positions.clone(),
            &lengths,
            delta,
        );
        let reference = warp_portable(x, score, &plan, positions, &lengths, delta);
        let stacked =
            Tensor::stack::<4>(vec![reference.mean, reference.max, reference.resolution], 1);
        assert!(
            max_rel_diff(plain.feature, stacked) < 1e-5,
            "inference feature"
        );
    }
}
