//! Finite-difference checks of the hand-built gradients: the warp (with its host-side plan and
//! straight-through cumulative sum), both score normalisations and the guide loss.
//!
//! Everything is `f32`, so these use central differences with a step of `1e-2` on inputs chosen
//! so that no discrete decision (which output row a frame starts in, which source wins a max,
//! which score is clipped) changes within the step.

use burn::prelude::*;
use diffres::regularizers::guide_loss;
use diffres::score_norm::{normalize, ScoreNormalization};
use diffres::warp::{warp, WarpPlan};

const STEP: f64 = 1e-2;

mod common;
use common::Lcg;

fn read(t: Tensor<3>) -> Vec<f64> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

fn read2(t: Tensor<2>) -> Vec<f64> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

fn tensor3(v: &[f64], shape: [usize; 3], device: &Device) -> Tensor<3> {
    let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn tensor2(v: &[f64], shape: [usize; 2], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn assert_close(analytic: &[f64], numeric: &[f64], what: &str) {
    assert_eq!(analytic.len(), numeric.len());
    let scale = numeric.iter().fold(0f64, |m, v| m.max(v.abs()));
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        let tol = 1e-3 + 1e-2 * n.abs().max(0.05 * scale);
        assert!(
            (a - n).abs() <= tol,
            "{what}[{i}]: analytic {a} vs finite difference {n} (tol {tol})"
        );
    }
    assert!(
        analytic.iter().any(|v| v.abs() > 1e-3),
        "{what}: the gradient is zero everywhere, the check is vacuous"
    );
}

const B: usize = 2;
const T: usize = 9;
const OUT: usize = 4;
const F: usize = 3;
const DELTA: f64 = 1.0 - OUT as f64 / T as f64;

/// Scores whose cumulative sums stay at least `3 * STEP` from every integer (so perturbing any
/// one score by `STEP` keeps every frame's output rows), total below `OUT`.
fn scores(rng: &mut Lcg) -> Vec<f64> {
    let mut out = Vec::with_capacity(B * T);
    for _ in 0..B {
        loop {
            let s = rng.vec(T, 0.15, 0.75);
            let mut c = 0.0;
            let ok = s.iter().all(|v| {
                c += v;
                let frac = c - c.floor();
                frac > 3.0 * STEP && frac < 1.0 - 3.0 * STEP
            }) && c < OUT as f64;
            if ok {
                out.extend(s);
                break;
            }
        }
    }
    out
}

/// Distinct log values, spread by more than the step.
fn log_spec(rng: &mut Lcg) -> Vec<f64> {
    let n = B * T * F;
    let mut v: Vec<f64> = (0..n).map(|i| -4.0 + 0.37 * i as f64).collect();
    // Shuffle (Fisher-Yates) so the order carries no structure.
    for i in (1..n).rev() {
        let j = (rng.next() * (i + 1) as f64) as usize;
        v.swap(i, j.min(i));
    }
    v.iter_mut()
        .for_each(|x| *x = *x * 0.5 + rng.uniform(-0.05, 0.05));
    v
}

fn positions(device: &Device) -> Tensor<2> {
    let e = diffres::position::sinusoidal(T, F);
    Tensor::from_data(TensorData::new(e, [T, F]), device)
}

#[derive(Clone, Copy, Debug)]
enum Output {
    Mean,
    Max,
    Resolution,
}

/// `sum(output * weight)` on the host in `f64`, with a plan built from these host scores.
fn host_loss(x: &[f64], s: &[f64], weight: &[f64], which: Output) -> f64 {
    let device = Device::flex();
    let plan = WarpPlan::new(s, B, T, OUT);
    let w = warp(
        tensor3(x, [B, T, F], &device),
        tensor2(s, [B, T], &device),
        &plan,
        positions(&device),
        &[T; B],
        DELTA,
    );
    let out = match which {
        Output::Mean => w.mean(),
        Output::Max => w.max(),
        Output::Resolution => w.resolution(),
    };
    read(out).iter().zip(weight).map(|(o, w)| o * w).sum()
}

/// Analytic gradients of `sum(output * weight)` with respect to the scores and `x`.
fn analytic(x: &[f64], s: &[f64], weight: &[f64], which: Output) -> (Vec<f64>, Vec<f64>) {
    let device = Device::flex().autodiff();
    let plan = WarpPlan::new(s, B, T, OUT);
    let xt = tensor3(x, [B, T, F], &device).require_grad();
    let st = tensor2(s, [B, T], &device).require_grad();
    let w = warp(
        xt.clone(),
        st.clone(),
        &plan,
        positions(&device),
        &[T; B],
        DELTA,
    );
    let out = match which {
        Output::Mean => w.mean(),
        Output::Max => w.max(),
        Output::Resolution => w.resolution(),
    };
    let loss = (out * tensor3(weight, [B, OUT, F], &device)).sum();
    let grads = loss.backward();
    let gs = st
        .grad(&grads)
        .map(read2)
        .unwrap_or_else(|| vec![0.0; B * T]);
    let gx = xt
        .grad(&grads)
        .map(read)
        .unwrap_or_else(|| vec![0.0; B * T * F]);
    (gs, gx)
}

fn central<Fn: FnMut(&[f64]) -> f64>(at: &[f64], mut f: Fn) -> Vec<f64> {
    (0..at.len())
        .map(|i| {
            let mut p = at.to_vec();
            p[i] += STEP;
            let up = f(&p);
            p[i] -= 2.0 * STEP;
            let down = f(&p);
            (up - down) / (2.0 * STEP)
        })
        .collect()
}

fn check_warp(which: Output, seed: u64) {
    let mut rng = Lcg(seed);
    let s = scores(&mut rng);
    let x = log_spec(&mut rng);
    let weight = rng.vec(B * OUT * F, -1.0, 1.0);
    let (gs, gx) = analytic(&x, &s, &weight, which);
    let fd_s = central(&s, |s| host_loss(&x, s, &weight, which));
    assert_close(&gs, &fd_s, &format!("{which:?}: d/d score"));
    match which {
        Output::Resolution => assert!(gx.iter().all(|g| *g == 0.0), "resolution depends on x"),
        _ => {
            let fd_x = central(&x, |x| host_loss(x, &s, &weight, which));
            assert_close(&gx, &fd_x, &format!("{which:?}: d/dx"));
        }
    }
}

#[test]
fn warp_mean_gradients_match_finite_differences() {
    check_warp(Output::Mean, 1);
}

#[test]
fn warp_max_gradients_match_finite_differences() {
    check_warp(Output::Max, 2);
}

#[test]
fn warp_resolution_gradient_matches_finite_differences() {
    check_warp(Output::Resolution, 3);
}

fn normalize_loss(
    raw: &[f64],
    weight: &[f64],
    t: usize,
    lengths: &[usize],
    mode: ScoreNormalization,
) -> f64 {
    let device = Device::flex();
    let frames = raw.len() / lengths.len();
    let n = normalize(
        tensor2(raw, [lengths.len(), frames], &device),
        t,
        lengths,
        mode,
    );
    read2(n.score).iter().zip(weight).map(|(s, w)| s * w).sum()
}

fn check_normalize(raw: &[f64], t: usize, lengths: &[usize], mode: ScoreNormalization, seed: u64) {
    let batch = lengths.len();
    let frames = raw.len() / batch;
    let mut rng = Lcg(seed);
    let weight = rng.vec(raw.len(), -1.0, 1.0);
    let device = Device::flex().autodiff();
    let r = tensor2(raw, [batch, frames], &device).require_grad();
    let n = normalize(r.clone(), t, lengths, mode);
    let loss = (n.score * tensor2(&weight, [batch, frames], &device)).sum();
    let grads = loss.backward();
    let g = read2(r.grad(&grads).unwrap());
    let fd = central(raw, |raw| normalize_loss(raw, &weight, t, lengths, mode));
    assert_close(&g, &fd, &format!("{mode:?}"));
    // Padding gets no gradient.
    for (b, &len) in lengths.iter().enumerate() {
        for j in len..frames {
            assert_eq!(
                g[b * frames + j],
                0.0,
                "{mode:?}: padding frame {j} of sample {b}"
            );
        }
    }
}

#[test]
fn exact_sum_normalization_gradient_matches_finite_differences() {
    // Sample 0: nothing clipped. Sample 1: frame 0 clipped at 1 (well inside), two padding frames.
    let raw = [
        0.31, 0.52, 0.44, 0.27, 0.58, 0.36, 0.49, 0.41, 0.33, 0.55, //
        0.95, 0.12, 0.18, 0.15, 0.2, 0.11, 0.17, 0.14, 0.6, 0.7,
    ];
    check_normalize(&raw, 3, &[10, 8], ScoreNormalization::ExactSum, 11);
    // The clipped frame has zero gradient.
    let device = Device::flex().autodiff();
    let r = tensor2(&raw, [2, 10], &device).require_grad();
    let n = normalize(r.clone(), 3, &[10, 8], ScoreNormalization::ExactSum);
    assert_eq!(n.host[10], 1.0);
    let g = read2(r.grad(&n.score.sum().backward()).unwrap());
    // d(sum s)/d s' = 0: the sum is pinned to t.
    assert!(g.iter().all(|v| v.abs() < 1e-5), "{g:?}");
}

#[test]
fn reference_normalization_gradient_matches_finite_differences() {
    // Max-rescaled and redistributed (distance = 5 - sum/max >= 1, alpha < 1), no value near
    // the (1e-4, 1 - 1e-4) axis limits, a unique maximum.
    let raw = [
        0.9, 0.3, 0.2, 0.4, 0.25, 0.35, 0.3, 0.21, //
        0.8, 0.22, 0.41, 0.33, 0.5, 0.27, 0.9, 0.6,
    ];
    check_normalize(&raw, 5, &[8, 6], ScoreNormalization::Reference, 12);
}

#[test]
fn guide_loss_gradient_is_the_hand_computed_one() {
    let device = Device::flex().autodiff();
    let delta = 0.75;
    let lambda = 0.5;
    // Sample 0: empty frames 0, 2, 3 (count 3). Sample 1: empty frame 1 (count 1).
    // Sample 2: none (excluded from the average). Gate: s / (1 - delta) > lambda, i.e. s > 0.125.
    let s = [
        0.5, 0.9, 0.1, 0.3, //
        0.2, 0.6, 0.05, 0.7, //
        0.9, 0.9, 0.9, 0.9,
    ];
    let empty = [
        1.0, 0.0, 1.0, 1.0, //
        0.0, 1.0, 0.0, 0.0, //
        0.0, 0.0, 0.0, 0.0,
    ];
    let st = tensor2(&s, [3, 4], &device).require_grad();
    let loss = guide_loss(st.clone(), tensor2(&empty, [3, 4], &device), delta, lambda);
    // Value: sample 0: (relu(2 - .5) + 0 + relu(1.2 - .5)) / 3 = 2.2 / 3; sample 1: 1.9; mean of two.
    let value: f32 = loss.clone().into_scalar();
    let expected = (2.2 / 3.0 + 1.9) / 2.0;
    assert!(
        (value as f64 - expected).abs() < 1e-5,
        "{value} vs {expected}"
    );
    let g = read2(st.grad(&loss.backward()).unwrap());
    let per = |count: f64| 1.0 / (1.0 - delta) / count / 2.0;
    let want = [
        per(3.0),
        0.0,
        0.0,
        per(3.0), //
        0.0,
        per(1.0),
        0.0,
        0.0, //
        0.0,
        0.0,
        0.0,
        0.0,
    ];
    for (i, (a, w)) in g.iter().zip(want).enumerate() {
        assert!((a - w).abs() < 1e-5, "guide loss d/ds[{i}]: {a} vs {w}");
    }
    // And the finite difference agrees.
    let host = |s: &[f64]| {
        let d = Device::flex();
        let l = guide_loss(
            tensor2(s, [3, 4], &d),
            tensor2(&empty, [3, 4], &d),
            delta,
            lambda,
        );
        l.into_scalar::<f32>() as f64
    };
    assert_close(&g, &central(&s, host), "guide loss");
}
