//! The warp in Burn tensor operations only (any backend): index-adds for the mean and the
//! resolution encoding, a host arg-max and a differentiable gather for the max.

use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;

use super::{valid_mask, WarpPlan, LOG_EPS};

/// The portable warp's outputs (before stacking).
pub(super) struct PortableWarp {
    pub(super) mean: Tensor<3>,
    pub(super) max: Tensor<3>,
    pub(super) resolution: Tensor<3>,
    /// `exp(x - m)`, 0 on padding, `[B, T, F]`.
    pub(super) linear: Tensor<3>,
}

/// Linear-scale spectrogram relative to each sample's maximum over its valid frames.
struct Linear {
    /// `exp(x - m)`, 0 on padding. `[B, T, F]`.
    value: Tensor<3>,
    /// `m` on the host.
    shift_host: Vec<f32>,
}

fn to_linear(x: Tensor<3>, lengths: &[usize]) -> Linear {
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

/// [`warp`](fn@super::warp) with Burn tensor operations only (any backend).
pub(super) fn warp_portable(
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
