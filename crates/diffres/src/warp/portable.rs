//! The warp in Burn tensor operations only (any backend), reading nothing back: index-adds for
//! the mean and the resolution encoding, an index-max with an arg-max by index-min and a
//! differentiable gather for the max.

use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;

use super::routes::DeviceRoutes;
use super::{valid_mask, LOG_EPS};

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
    /// `m`, `[B, 1, 1]` (detached).
    shift: Tensor<3>,
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
    Linear {
        value: (masked - shift.clone()).exp(),
        shift,
    }
}

/// [`warp`](fn@super::warp) with Burn tensor operations only (any backend), from routes
/// already on the device.
pub(super) fn warp_portable(
    x: Tensor<3>,
    routes: DeviceRoutes,
    out_frames: usize,
    positions: Tensor<2>,
    lengths: &[usize],
    delta: f64,
) -> PortableWarp {
    let [batch, frames, mels] = x.dims();
    let device = x.device();
    let t = out_frames;
    let n = batch * frames;
    let rows_out = batch * (t + 1);
    let DeviceRoutes {
        first_row,
        second_row,
        w_first,
        w_next,
    } = routes;

    let linear = to_linear(x, lengths);
    let value = linear.value.clone().reshape([n, mels]);

    // Mean and resolution encoding, `sum_j W[k, j] (v_j, E_j)`: every frame adds its first
    // share to its first row and its next share (0 unless it crosses) to the next row, each one
    // index-add; nothing of size [2N, F] is built.
    let positions = positions.unsqueeze_dim::<3>(0); // [1, T, F]
    let spread = |rows_first: Tensor<1, Int>,
                  rows_next: Tensor<1, Int>,
                  first: Tensor<2>,
                  next: Tensor<2>| {
        Tensor::<2>::zeros([rows_out, mels], &device)
            .select_assign(0, rows_first, first, IndexingUpdateOp::Add)
            .select_assign(0, rows_next, next, IndexingUpdateOp::Add)
    };
    let first_products = value.clone() * w_first.clone(); // [N, F]
    let next_products = value.clone() * w_next.clone();
    let mean_sum = spread(
        first_row.clone(),
        second_row.clone(),
        first_products.clone(),
        next_products.clone(),
    );
    let res_of =
        |w: Tensor<2>| (positions.clone() * w.reshape([batch, frames, 1])).reshape([n, mels]);
    let res_sum = spread(
        first_row.clone(),
        second_row.clone(),
        res_of(w_first.clone()),
        res_of(w_next.clone()),
    );
    let mean_linear = mean_sum.reshape([batch, t + 1, mels]).narrow(1, 0, t);
    let resolution = res_sum.reshape([batch, t + 1, mels]).narrow(1, 0, t);

    let max_linear = warp_max(
        value,
        [first_products.detach(), next_products.detach()],
        [first_row, second_row],
        [w_first, w_next],
        rows_out,
    )
    .reshape([batch, t + 1, mels])
    .narrow(1, 0, t);

    // log(v e^m + eps) = M + log(v e^(m - M) + eps e^-M) with M = max(m, ln eps), so that
    // neither factor overflows: for m >= ln eps (any audible input) this is
    // m + log(v + eps e^-m); for inputs far below ln eps (m < -116 would make eps e^-m overflow
    // f32) the result tends to ln eps. eps e^-M is kept above f32's smallest normal.
    let ln_eps = LOG_EPS.ln();
    let top = linear.shift.clone().clamp_min(ln_eps); // [B, 1, 1]
    let value_scale = (linear.shift - top.clone()).exp();
    let eps_shift = (-top.clone() + ln_eps).exp().clamp_min(1e-37);
    let log = |v: Tensor<3>| (v * value_scale.clone() + eps_shift.clone()).log() + top.clone();
    let max_scale = 1.0 / (1.0 - delta);
    PortableWarp {
        mean: log(mean_linear),
        max: log(max_linear * max_scale),
        resolution,
        linear: linear.value,
    }
}

/// `max_j W[k, j] v_j` per output row (sink rows included) and mel bin, `[rows, F]`, 0 for rows
/// without sources.
///
/// The maximum is an index-max over the detached products (Burn's gradient of a max-scatter is
/// wrong when several sources meet in one row); the arg-max is the smallest source id whose
/// product equals it (an integer index-min: ids `i` for frame `i`'s first share, `N + i` for
/// its next one, so the first source wins ties, as [`crate::segment::segment_max`]); the value
/// is then gathered from the differentiable `v` and weights, so the gradient goes to the winner
/// only. Every step is a device operation.
fn warp_max(
    value: Tensor<2>,
    products: [Tensor<2>; 2],
    rows: [Tensor<1, Int>; 2],
    weights: [Tensor<2>; 2],
    rows_out: usize,
) -> Tensor<2> {
    let [n, mels] = value.dims();
    let device = value.device();
    let none = 2 * n as i64;
    let mut best = Tensor::<2>::full([rows_out, mels], f32::NEG_INFINITY, &device);
    for (p, r) in products.iter().zip(&rows) {
        best = best.select_assign(0, r.clone(), p.clone(), IndexingUpdateOp::Max);
    }
    let mut winner = Tensor::<2, Int>::full([rows_out, mels], none, &device);
    for (half, (p, r)) in products.into_iter().zip(&rows).enumerate() {
        let ids = Tensor::<1, Int>::arange(
            half as i64 * n as i64..(half as i64 + 1) * n as i64,
            &device,
        )
        .reshape([n, 1])
        .expand([n, mels]);
        let wins = p.greater_equal(best.clone().select(0, r.clone()));
        let ids = ids.mask_fill(wins.bool_not(), none);
        winner = winner.select_assign(0, r.clone(), ids, IndexingUpdateOp::Min);
    }
    let empty = winner.clone().equal_elem(none);
    let winner = winner.mask_fill(empty.clone(), 0);
    let source = winner.clone().remainder_scalar(n as i64);
    let [w_first, w_next] = weights;
    let weights = Tensor::cat(vec![w_first, w_next], 0).reshape([2 * n]);
    let picked = value.gather(0, source);
    let w = weights
        .select(0, winner.reshape([rows_out * mels]))
        .reshape([rows_out, mels]);
    (picked * w).mask_fill(empty, 0.0)
}
