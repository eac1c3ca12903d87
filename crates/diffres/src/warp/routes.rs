//! Where every input frame goes, as device tensors: from a host [`WarpPlan`] (the flex path's
//! bookkeeping) or computed on the device from the scores (every other backend), without
//! reading anything back.
//!
//! The warp needs, per frame, `floor(C_{j-1})` (its first output row) and `C_j - (k0 + 1)` (how
//! far it reaches into the next row), with `C` the cumulative sum of the scores. An `f32`
//! cumulative sum cannot hold `C` accurately once it is large (its unit in the last place is
//! about 1e-3 at 10,000), so on the device `C` is kept in two parts: the scores rounded to a
//! fixed-point grid of `2^-bits` (summed exactly as integers) plus the tiny `f32` rounding
//! residuals (at most `2^-(bits+1)` each, summed in `f32`). The integer part then gives the row
//! exactly and the fraction is accurate to about 1e-7 whatever `T`, as close to the host's `f64`
//! sum as `f32` can represent.

use burn::prelude::*;
use burn::tensor::activation::relu;

use super::WarpPlan;

/// Each frame's two output rows and the split of its score between them.
pub(crate) struct DeviceRoutes {
    /// Global row (`b * (t + 1) + k`) of each frame's first output frame, `[N]`; row `t` of a
    /// sample is a sink for weight past the end (float rounding only).
    pub(crate) first_row: Tensor<1, Int>,
    /// Global row of the next output frame, `[N]`.
    pub(crate) second_row: Tensor<1, Int>,
    /// The share of each frame's score in its first row, `[N, 1]` (differentiable).
    pub(crate) w_first: Tensor<2>,
    /// The share in its next row (0 unless the frame crosses into it), `[N, 1]`.
    pub(crate) w_next: Tensor<2>,
}

/// Inclusive cumulative sum along dimension 1 in blocks of about `sqrt(T)`.
///
/// Burn's cubecl backends compute each element of a cumulative sum as its own serial sum
/// (O(T^2) work); blocks make it O(T sqrt T) with the same differentiable operations.
macro_rules! blocked_cumsum {
    ($name:ident, $kind:ty) => {
        fn $name(x: Tensor<2, $kind>) -> Tensor<2, $kind> {
            let [batch, frames] = x.dims();
            let block = (frames as f64).sqrt().ceil().max(1.0) as usize;
            let blocks = frames.div_ceil(block);
            if blocks <= 1 {
                return x.cumsum(1);
            }
            let device = x.device();
            let padded = blocks * block;
            let x = if padded > frames {
                Tensor::cat(vec![x, Tensor::zeros([batch, padded - frames], &device)], 1)
            } else {
                x
            };
            let local = x.reshape([batch, blocks, block]).cumsum(2);
            let totals = local.clone().narrow(2, block - 1, 1).cumsum(1); // [B, blocks, 1]
            let before = Tensor::cat(
                vec![
                    Tensor::zeros([batch, 1, 1], &device),
                    totals.narrow(1, 0, blocks - 1),
                ],
                1,
            );
            (local + before)
                .reshape([batch, padded])
                .narrow(1, 0, frames)
        }
    };
}

blocked_cumsum!(cumsum_float, Float);
blocked_cumsum!(cumsum_int, Int);

/// Fixed-point bits for `frames` scores of at most 1: the integer cumulative sum stays below
/// `2^31` (backends with 32-bit integers), with at most 20 bits.
fn fixed_point_bits(frames: usize) -> u32 {
    let limit = (i32::MAX as u64) / (frames as u64 + 1);
    (63 - limit.max(1).leading_zeros()).min(20)
}

/// The routes of normalised scores `[B, T]` (each in `[0, 1]`), computed on the device.
///
/// The gradient of each share with respect to the scores is that of `C_j` (through the `f32`
/// residual sum, whose derivative is exactly that of the cumulative sum).
pub(crate) fn device_routes(score: Tensor<2>, out_frames: usize) -> DeviceRoutes {
    let [batch, frames] = score.dims();
    let device = score.device();
    let n = batch * frames;
    let t = out_frames as i64;
    let unit = (1u64 << fixed_point_bits(frames)) as i64;
    let unit_f = unit as f32;

    let grid = score.clone().detach().mul_scalar(unit_f).round().int(); // [B, T]
    let residual = score.clone() - grid.clone().float().div_scalar(unit_f); // differentiable
    let whole = cumsum_int(grid); // exact
    let rest = cumsum_float(residual); // [B, T], |rest| << 1
                                       // C_j = int_part + frac with frac in [0, 1).
    let frac = whole
        .clone()
        .remainder_scalar(unit)
        .float()
        .div_scalar(unit_f)
        + rest;
    let carry = frac.clone().detach().floor();
    let int_part = whole.div_scalar(unit) + carry.clone().int();
    let frac = frac - carry;

    // floor(C_{j-1}): the previous frame's integer part (0 for the first frame).
    let first = Tensor::<2, Int>::zeros([batch, 1], &device);
    let before = if frames > 1 {
        Tensor::cat(vec![first, int_part.clone().narrow(1, 0, frames - 1)], 1)
    } else {
        first
    };
    let k0 = before.clamp(0, t);
    let overhang = (int_part - k0.clone() - 1).float() + frac; // C_j - (k0 + 1)
    let base = Tensor::<1, Int>::arange(0..batch as i64, &device)
        .mul_scalar(t + 1)
        .reshape([batch, 1]);
    let first_row = (base.clone() + k0.clone()).reshape([n]);
    let second_row = (base + (k0 + 1).clamp_max(t)).reshape([n]);
    let w_next = relu(overhang); // [B, T]
    let w_first = score - w_next.clone();
    DeviceRoutes {
        first_row,
        second_row,
        w_first: w_first.reshape([n, 1]),
        w_next: w_next.reshape([n, 1]),
    }
}

/// The routes of a host plan, uploaded; the shares get `d C / d s` through a straight-through
/// term `cumsum(s) - detach(cumsum(s))`, zero in value.
pub(crate) fn plan_routes(score: Tensor<2>, plan: &WarpPlan) -> DeviceRoutes {
    let [batch, frames] = score.dims();
    let device = score.device();
    let n = batch * frames;
    let index =
        |rows: &[i64]| Tensor::<1, Int>::from_data(TensorData::new(rows.to_vec(), [n]), &device);
    let cumsum = cumsum_float(score.clone());
    let straight_through = cumsum.clone() - cumsum.detach();
    let overhang = Tensor::<2>::from_data(
        TensorData::new(plan.overhang.clone(), [batch, frames]),
        &device,
    );
    let w_next = relu(overhang + straight_through); // [B, T]
    let w_first = score - w_next.clone();
    DeviceRoutes {
        first_row: index(&plan.first_row),
        second_row: index(&plan.second_row),
        w_first: w_first.reshape([n, 1]),
        w_next: w_next.reshape([n, 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(t: Tensor<1, Int>) -> Vec<i64> {
        t.into_data().convert::<i64>().try_to_vec::<i64>().unwrap()
    }

    /// The device routes equal the host plan's (built in `f64`), also where the cumulative sum
    /// is large (T = 3000, where an `f32` sum is off by ~1e-4) and on padding.
    #[test]
    fn device_routes_match_the_host_plan() {
        let device = Device::flex();
        for (frames, t) in [(23usize, 9usize), (3000, 2100), (50, 50)] {
            let batch = 2;
            let mut host = Vec::new();
            for b in 0..batch {
                let len = if b == 0 { frames } else { frames * 2 / 3 };
                let raw: Vec<f64> = (0..len)
                    .map(|i| 0.05 + ((i * 37 + b * 5) % 11) as f64 / 11.0)
                    .collect();
                let mut s = crate::score_norm::exact_sum(&raw, t);
                s.resize(frames, 0.0);
                host.extend(s);
            }
            let values: Vec<f32> = host.iter().map(|&v| v as f32).collect();
            let score =
                Tensor::<2>::from_data(TensorData::new(values.clone(), [batch, frames]), &device);
            // The plan from the very f32 scores the device sees.
            let plan = WarpPlan::new(
                &values.iter().map(|&v| v as f64).collect::<Vec<_>>(),
                batch,
                frames,
                t,
            );
            let dev = device_routes(score.clone(), t);
            let reference = plan_routes(score, &plan);
            // Compare each frame's weight per output row: where C_{j-1} sits on an integer to
            // within f32 rounding the two may route a frame's score through different slots
            // (first share in row k, or a ~0 first share in row k - 1 and the rest as the next
            // share in row k), which the warp treats alike.
            let per_row = |r: DeviceRoutes| {
                let rows1 = ints(r.first_row);
                let rows2 = ints(r.second_row);
                let w1 = crate::host::read_f32(&r.w_first);
                let w2 = crate::host::read_f32(&r.w_next);
                (0..rows1.len())
                    .map(|i| {
                        let mut m = std::collections::BTreeMap::<i64, f32>::new();
                        *m.entry(rows1[i]).or_default() += w1[i];
                        *m.entry(rows2[i]).or_default() += w2[i];
                        m.retain(|_, w| w.abs() > 1e-5);
                        m
                    })
                    .collect::<Vec<_>>()
            };
            let (a, b) = (per_row(dev), per_row(reference));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                assert_eq!(
                    x.keys().collect::<Vec<_>>(),
                    y.keys().collect::<Vec<_>>(),
                    "T={frames}, frame {i}"
                );
                for (w, v) in x.values().zip(y.values()) {
                    assert!((w - v).abs() < 2e-6, "T={frames}, frame {i}: {w} vs {v}");
                }
            }
        }
    }

    #[test]
    fn blocked_cumsum_equals_cumsum() {
        let device = Device::flex();
        let x = Tensor::<2, Int>::from_data(
            TensorData::new(
                (0..2 * 37).map(|i| (i * 7 % 5) as i64).collect::<Vec<_>>(),
                [2, 37],
            ),
            &device,
        );
        assert_eq!(
            ints(cumsum_int(x.clone()).reshape([74])),
            ints(x.cumsum(1).reshape([74]))
        );
        assert_eq!(fixed_point_bits(10), 20);
        assert_eq!(fixed_point_bits(10_000), 17);
    }
}
