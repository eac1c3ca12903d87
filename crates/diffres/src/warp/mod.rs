//! The O(T) frame warp: merge input frames into `t` output frames by their scores.
//!
//! With normalised scores `s` and their cumulative sum `C`, input frame `j` covers the interval
//! `[C_{j-1}, C_j)` on the output axis, and the warp matrix is the overlap
//! `W[k, j] = |[C_{j-1}, C_j) ∩ [k, k+1)|`. That is exactly what the paper's equation 5 followed
//! by its Algorithm 1 computes, but written this way each input frame touches at most two output
//! frames (`s_j <= 1`), so the warp needs O(B·T·F) time and memory instead of the reference's
//! dense `t × T` matrix.
//!
//! The cumulative sum must be accurate where it is large (an `f32` cumsum of 10,000 scores is off
//! by ~5e-4). On the flex path it is taken on the host in `f64` ([`WarpPlan`]) and its gradient is
//! attached with a straight-through term `cumsum(s) - detach(cumsum(s))`, which is zero in value
//! but carries d(C)/d(s); on every other backend it is taken on the device as an exact
//! fixed-point integer sum plus an `f32` sum of the rounding residuals (`routes.rs`), so nothing
//! is read back.
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
//!
//! Files: `plan.rs` ([`WarpPlan`], the host-side routing of every frame), `routes.rs` (the
//! routing as device tensors, from a plan or from the scores), `portable.rs` (the warp in Burn
//! tensor operations, for any backend); the fused flex kernel is in `cpu`.

#[cfg(test)]
mod eq5_tests;
mod plan;
mod portable;
mod routes;

use burn::prelude::*;

pub use crate::constants::LOG_EPS;
use crate::cpu::warp_kernel::WarpSpec;
pub use plan::WarpPlan;
use portable::warp_portable;
use routes::{device_routes, plan_routes};

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

/// The valid-frame mask `[B, T]` (1 inside each sample's length, 0 after).
pub(crate) fn valid_mask(lengths: &[usize], frames: usize, device: &Device) -> Tensor<2> {
    let mut mask = vec![0f32; lengths.len() * frames];
    for (b, &len) in lengths.iter().enumerate() {
        mask[b * frames..b * frames + len].fill(1.0);
    }
    Tensor::from_data(TensorData::new(mask, [lengths.len(), frames]), device)
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
    let spec = WarpSpec {
        routes: plan.routes(),
        lengths,
        delta,
    };
    if let Some((feature, energy)) =
        crate::cpu::warp_op::warp(&x, &score, &positions, plan.out_frames, spec)
    {
        return Warped { feature, energy };
    }
    let routes = plan_routes(score, plan);
    stack(warp_portable(
        x,
        routes,
        plan.out_frames,
        positions,
        lengths,
        delta,
    ))
}

/// [`warp()`] without a host plan: the routes are computed on the device from the scores and
/// nothing is read back (the path of every backend but flex).
///
/// # Shapes
/// As [`warp()`], with `out_frames` = `t`.
pub(crate) fn warp_device(
    x: Tensor<3>,
    score: Tensor<2>,
    out_frames: usize,
    positions: Tensor<2>,
    lengths: &[usize],
    delta: f64,
) -> Warped {
    let routes = device_routes(score, out_frames);
    stack(warp_portable(
        x, routes, out_frames, positions, lengths, delta,
    ))
}

fn stack(out: portable::PortableWarp) -> Warped {
    let [batch, frames, _] = out.linear.dims();
    let energy = out.linear.detach().mean_dim(2).reshape([batch, frames]); // [B, T]
    let feature = Tensor::stack::<4>(vec![out.mean, out.max, out.resolution], 1); // [B, 3, t, F]
    Warped { feature, energy }
}

/// Fixtures shared by the warp's tests (this module's and `eq5_tests`).
#[cfg(test)]
mod test_support {
    use super::portable::warp_portable;
    use super::*;
    use burn::tensor::Distribution;

    /// Scores normalised to sum to `t` over each clip's valid frames (0 after), from a fixed
    /// pattern, `[batch * frames]`.
    pub(super) fn normalised_scores(
        batch: usize,
        frames: usize,
        t: usize,
        lengths: &[usize],
    ) -> Vec<f64> {
        let mut host = Vec::new();
        for (b, &len) in lengths.iter().enumerate().take(batch) {
            let row: Vec<f64> = (0..len)
                .map(|j| 0.05 + (((b * frames + j) * 37) % 11) as f64 / 11.0)
                .collect();
            let mut s = crate::score_norm::exact_sum(&row, t);
            s.resize(frames, 0.0);
            host.extend(s);
        }
        host
    }

    /// One warp of `plan` on flex's fused kernel and on the portable operations, from the
    /// same random input, encoding and output weights (drawn in that order on `device`).
    pub(super) struct FusedAndPortable {
        pub x: Tensor<3>,
        pub score: Tensor<2>,
        pub positions: Tensor<2>,
        /// (fused, portable) features, `[B, 3, t, F]`.
        pub features: (Tensor<4>, Tensor<4>),
        /// (fused, portable) energies, `[B, T]`.
        pub energies: (Tensor<2>, Tensor<2>),
        /// The gradients of `sum(feature * weight)` with respect to `x`, the scores and the
        /// encoding, flattened: `(name, fused, portable)`.
        pub gradients: [(&'static str, Tensor<1>, Tensor<1>); 3],
    }

    pub(super) fn fused_and_portable(
        device: &Device,
        plan: &WarpPlan,
        host: &[f64],
        lengths: &[usize],
        mels: usize,
        delta: f64,
    ) -> FusedAndPortable {
        let (batch, frames, t) = (plan.batch, plan.frames, plan.out_frames);
        let values: Vec<f32> = host.iter().map(|&v| v as f32).collect();
        let x = Tensor::<3>::random(
            [batch, frames, mels],
            Distribution::Normal(-4.0, 2.0),
            device,
        )
        .require_grad();
        let score =
            Tensor::<2>::from_data(TensorData::new(values, [batch, frames]), device).require_grad();
        let positions =
            Tensor::<2>::random([frames, mels], Distribution::Default, device).require_grad();
        let weight =
            Tensor::<4>::random([batch, 3, t, mels], Distribution::Normal(0.0, 1.0), device);

        let fused = warp(
            x.clone(),
            score.clone(),
            plan,
            positions.clone(),
            lengths,
            delta,
        );
        let portable = warp_portable(
            x.clone(),
            plan_routes(score.clone(), plan),
            t,
            positions.clone(),
            lengths,
            delta,
        );
        let energy = portable.linear.clone().mean_dim(2).reshape([batch, frames]);
        let stacked = Tensor::stack::<4>(
            vec![
                portable.mean.clone(),
                portable.max.clone(),
                portable.resolution.clone(),
            ],
            1,
        );
        let ga = (fused.feature.clone() * weight.clone()).sum().backward();
        let gb = (stacked.clone() * weight).sum().backward();
        let flat3 = |t: Option<Tensor<3>>| t.expect("gradient").flatten::<1>(0, 2);
        let flat2 = |t: Option<Tensor<2>>| t.expect("gradient").flatten::<1>(0, 1);
        let gradients = [
            ("x", flat3(x.grad(&ga)), flat3(x.grad(&gb))),
            ("score", flat2(score.grad(&ga)), flat2(score.grad(&gb))),
            (
                "positions",
                flat2(positions.grad(&ga)),
                flat2(positions.grad(&gb)),
            ),
        ];
        FusedAndPortable {
            x,
            score,
            positions,
            features: (fused.feature, stacked),
            energies: (fused.energy, energy.detach()),
            gradients,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::portable::warp_portable;
    use super::*;

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
        let host = test_support::normalised_scores(batch, frames, t, &lengths);
        let plan = WarpPlan::new(&host, batch, frames, t);
        let run = test_support::fused_and_portable(&device, &plan, &host, &lengths, mels, delta);
        assert!(
            max_rel_diff(run.features.0, run.features.1) < 1e-5,
            "feature"
        );
        assert!(
            max_rel_diff(run.energies.0, run.energies.1) < 1e-5,
            "energy"
        );
        for (name, a, b) in run.gradients {
            let d = max_rel_diff(a, b);
            assert!(d < 1e-4, "gradient with respect to {name} differs by {d}");
        }

        // Without autodiff.
        let (x, score, positions) = (run.x.inner(), run.score.inner(), run.positions.inner());
        let plain = warp(
            x.clone(),
            score.clone(),
            &plan,
            positions.clone(),
            &lengths,
            delta,
        );
        let reference = warp_portable(
            x.clone(),
            plan_routes(score.clone(), &plan),
            t,
            positions.clone(),
            &lengths,
            delta,
        );
        let stacked =
            Tensor::stack::<4>(vec![reference.mean, reference.max, reference.resolution], 1);
        assert!(
            max_rel_diff(plain.feature.clone(), stacked) < 1e-5,
            "inference feature"
        );
        // Routes computed on the device instead of the host plan: the same warp.
        let device_path = warp_device(x, score, t, positions, &lengths, delta);
        assert!(
            max_rel_diff(plain.feature, device_path.feature) < 1e-5,
            "device-routed feature"
        );
    }
}
