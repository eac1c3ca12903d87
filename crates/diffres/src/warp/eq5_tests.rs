//! The equation-5 warp (the `--warp eq5` ablation) on both paths: the fused flex kernel and the
//! portable tensor operations route its plan the same way (values and gradients), and the
//! plan holds the paper's equation 5 exactly.

use burn::prelude::*;

use super::portable::warp_portable;
use super::routes::plan_routes;
use super::test_support::{fused_and_portable, normalised_scores};
use super::{warp, WarpPlan};
use crate::ablation::WarpKind;

fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    let a = a.flatten::<1>(0, D - 1);
    let b = b.flatten::<1>(0, D - 1);
    crate::host::read_f32(&(a - b).abs().max())[0]
}

#[test]
fn eq5_plan_is_equation_5() {
    let (frames, t) = (23, 9);
    let host = normalised_scores(1, frames, t, &[frames]);
    let plan = WarpPlan::eq5(&host, 1, frames, t);
    assert_eq!(plan.kind(), WarpKind::Eq5);
    let mut c = 0.0;
    let mut seen = 0;
    for (j, k, w) in plan.sparse(0) {
        assert_eq!(j, seen, "every frame once, in order");
        seen += 1;
        c += host[j];
        assert!(
            (k as f64) < c + 1e-12 && c <= (k + 1) as f64 + 1e-12,
            "frame {j}: C = {c} in row {k}"
        );
        assert_eq!(w, host[j], "whole score");
    }
    assert_eq!(seen, frames);
    // The full warp splits some frame here; equation 5 alone does not.
    let full = WarpPlan::new(&host, 1, frames, t);
    assert!(full.sparse(0).len() > frames);
}

#[test]
fn fused_and_portable_eq5_warps_agree() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let (batch, frames, mels, t, delta) = (3, 23, 5, 9, 0.6);
    let lengths = [23, 17, 9];
    let host = normalised_scores(batch, frames, t, &lengths);
    let plan = WarpPlan::eq5(&host, batch, frames, t);
    let run = fused_and_portable(&device, &plan, &host, &lengths, mels, delta);
    assert!(max_abs_diff(run.features.0, run.features.1) < 1e-5);
    for (name, a, b) in run.gradients {
        let d = max_abs_diff(a, b);
        assert!(d < 1e-4, "gradient with respect to {name} differs by {d}");
    }
}

/// A hand-computed case: T = 4, t = 2, scores (0.6, 0.6, 0.4, 0.4), so `C = (0.6, 1.2, 1.6,
/// 2.0)`: equation 5 puts frame 0 in row 0 and frames 1-3 in row 1, each with its whole score.
/// With `exp(x) = (1, 2, 3, 4)` and `delta = 0.5`: mean rows 0.6 and 0.6·2 + 0.4·3 + 0.4·4 =
/// 4.0; max rows 0.6 / 0.5 = 1.2 and 1.6 / 0.5 = 3.2; d mean_1 / d s = (0, 2, 3, 4). The full
/// warp would split frame 1 (0.4 to row 0, 0.2 to row 1): mean rows 1.4 and 3.2.
#[test]
fn eq5_warp_by_hand_on_both_paths() {
    let device = Device::flex().autodiff();
    let host = [0.6, 0.6, 0.4, 0.4];
    let x_values: Vec<f32> = [1.0f32, 2.0, 3.0, 4.0].iter().map(|v| v.ln()).collect();
    let check = |kind: WarpKind, portable_path: bool| -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let plan = match kind {
            WarpKind::Full => WarpPlan::new(&host, 1, 4, 2),
            WarpKind::Eq5 => WarpPlan::eq5(&host, 1, 4, 2),
        };
        let x = Tensor::<3>::from_data(TensorData::new(x_values.clone(), [1, 4, 1]), &device);
        let s: Vec<f32> = host.iter().map(|&v| v as f32).collect();
        let score = Tensor::<2>::from_data(TensorData::new(s, [1, 4]), &device).require_grad();
        let positions = Tensor::<2>::zeros([4, 1], &device);
        let (mean, max) = if portable_path {
            let out = warp_portable(
                x,
                plan_routes(score.clone(), &plan),
                plan.out_frames,
                positions,
                &[4],
                0.5,
            );
            (out.mean, out.max)
        } else {
            let out = warp(x, score.clone(), &plan, positions, &[4], 0.5);
            (out.mean(), out.max())
        };
        let grads = mean.clone().narrow(1, 1, 1).exp().sum().backward();
        let read = |t: Tensor<3>| -> Vec<f32> {
            crate::host::read_f32(&t.inner().exp())
                .iter()
                .map(|v| (v * 1e4).round() / 1e4)
                .collect()
        };
        let g = crate::host::read_f32(&score.grad(&grads).unwrap());
        (read(mean), read(max), g)
    };
    for portable_path in [false, true] {
        let (mean, max, grad) = check(WarpKind::Eq5, portable_path);
        assert_eq!(mean, vec![0.6, 4.0], "eq5 mean, portable {portable_path}");
        assert_eq!(max, vec![1.2, 3.2], "eq5 max, portable {portable_path}");
        for (g, want) in grad.iter().zip([0.0, 2.0, 3.0, 4.0]) {
            assert!((g - want).abs() < 1e-4, "d mean_1 / d s = {grad:?}");
        }
        let (mean, _, _) = check(WarpKind::Full, portable_path);
        assert_eq!(mean, vec![1.4, 3.2], "full mean, portable {portable_path}");
    }
}
