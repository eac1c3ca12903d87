//! The paper's ablations (Figure 8) on the whole layer: each switch changes what it should and
//! nothing else. The fused and portable warps are compared on the equation-5 plan in the
//! crate's unit tests (`warp::eq5_tests`); here, the layer's outputs against values computed
//! from its own scores, and the equation-5 plan against the authors' mask.

use std::path::Path;

use burn::prelude::*;
use diffres::{Aggregation, DiffResConfig, FrontEndConfig, FrontEndKind, WarpKind, WarpPlan};

fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().unwrap()
}

/// Two clips of 40 frames, 8 mels: loud events on a background 60 dB down (so the guide loss
/// has empty frames), deterministic.
fn input(device: &Device) -> Tensor<3> {
    let (b, frames, mels) = (2, 40, 8);
    let mut v = Vec::with_capacity(b * frames * mels);
    for s in 0..b {
        for j in 0..frames {
            for f in 0..mels {
                let loud = (j / 5 + s) % 3 == 0;
                let base = if loud { -1.0 } else { -15.0 };
                v.push(base + ((s * 31 + j * 7 + f * 3) % 13) as f32 * 0.1);
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [b, frames, mels]), device)
}

/// A layer of `cfg` with the weights of the crate's default layer built once per test
/// (through its record), so that variants differ only by their switches.
fn layer(cfg: DiffResConfig, device: &Device) -> diffres::DiffRes {
    use burn::module::Module;
    thread_local! {
        static WEIGHTS: std::cell::RefCell<Option<diffres::DiffRes>> =
            const { std::cell::RefCell::new(None) };
    }
    let base = WEIGHTS.with(|w| {
        w.borrow_mut()
            .get_or_insert_with(|| DiffResConfig::new(8).with_delta(0.75).init(device).unwrap())
            .clone()
    });
    cfg.init(device).unwrap().load_record(base.into_record())
}

#[test]
fn each_channel_ablation_keeps_exactly_its_channels() {
    let device = Device::flex();
    let x = input(&device);
    let full = layer(DiffResConfig::new(8).with_delta(0.75), &device)
        .forward(x.clone(), None)
        .unwrap();
    assert_eq!(full.feature.dims(), [2, 3, 10, 8]);
    let channel = |c: usize| read(full.feature.clone().narrow(1, c, 1));
    let cases = [
        (Aggregation::MeanMax, false, vec![0, 1]),
        (Aggregation::Mean, true, vec![0, 2]),
        (Aggregation::Max, true, vec![1, 2]),
        (Aggregation::Mean, false, vec![0]),
        (Aggregation::Max, false, vec![1]),
    ];
    for (aggregation, resolution, kept) in cases {
        let cfg = DiffResConfig::new(8)
            .with_delta(0.75)
            .with_aggregation(aggregation)
            .with_resolution_channel(resolution);
        let fe_cfg = FrontEndConfig::new(FrontEndKind::DiffRes, 8)
            .with_delta(0.75)
            .with_aggregation(aggregation)
            .with_resolution_channel(resolution);
        assert_eq!(fe_cfg.channels(), kept.len(), "{aggregation} {resolution}");
        let out = layer(cfg, &device).forward(x.clone(), None).unwrap();
        assert_eq!(out.feature.dims(), [2, kept.len(), 10, 8]);
        for (c, &source) in kept.iter().enumerate() {
            assert_eq!(
                read(out.feature.clone().narrow(1, c, 1)),
                channel(source),
                "{aggregation} resolution {resolution}: channel {c}"
            );
        }
        // Scores, guide loss and activeness do not depend on which channels are output.
        assert_eq!(read(out.score.unwrap()), read(full.score.clone().unwrap()));
        assert_eq!(read(out.guide_loss), read(full.guide_loss.clone()));
    }
    // The front end builds the classifier's input channel count the same way.
    let fe = FrontEndConfig::new(FrontEndKind::DiffRes, 8)
        .with_delta(0.75)
        .with_resolution_channel(false)
        .init(&device)
        .unwrap();
    assert_eq!(fe.forward(x, None).unwrap().feature.dims()[1], 2);
}

/// With `--warp eq5` the layer's mean channel is `log(sum_j W0[k, j] exp(x_j))` with `W0` the
/// paper's equation 5 built from the layer's own scores, and it differs from the full warp.
#[test]
fn eq5_layer_applies_equation_5_to_its_scores() {
    let device = Device::flex();
    let x = input(&device);
    // delta 0.7: t = 12 rows for 40 frames, so even uniform scores (0.3) straddle rows.
    let (b, frames, mels, t) = (2, 40, 8, 12);
    let out = layer(
        DiffResConfig::new(8)
            .with_delta(0.7)
            .with_warp(WarpKind::Eq5),
        &device,
    )
    .forward(x.clone(), None)
    .unwrap();
    let plan = out.plan.as_ref().unwrap();
    assert_eq!(plan.kind(), WarpKind::Eq5);
    let score: Vec<f64> = read(out.score.clone().unwrap())
        .iter()
        .map(|&v| v as f64)
        .collect();
    let xs = read(x.clone());
    let mean = read(out.feature.clone().narrow(1, 0, 1));
    for s in 0..b {
        // Equation 5 by hand: frame j goes whole to the k with k < C_j <= k + 1.
        let mut want = vec![0f64; t * mels];
        let mut c = 0f64;
        for j in 0..frames {
            let w = score[s * frames + j];
            c += w;
            let k = (c - 1e-5).ceil().max(1.0) as usize - 1;
            for f in 0..mels {
                want[k.min(t - 1) * mels + f] += w * (xs[(s * frames + j) * mels + f] as f64).exp();
            }
        }
        for (i, w) in want.iter().enumerate() {
            let got = mean[s * t * mels + i] as f64;
            assert!(
                (got - (w + 1e-12).ln()).abs() < 1e-4,
                "clip {s} element {i}: {got} vs {}",
                (w + 1e-12).ln()
            );
        }
    }
    let full = layer(DiffResConfig::new(8).with_delta(0.7), &device)
        .forward(x, None)
        .unwrap();
    assert_eq!(read(out.score.unwrap()), read(full.score.unwrap()));
    let diff = (out.feature - full.feature)
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(
        diff > 1e-3,
        "eq5 and the full warp agree ({diff}): no frame was split"
    );
}

/// `guide_lambda` is the threshold of equation 7: with λ = 0 the guide loss is the mean of
/// `s / (1 - δ)` over each clip's empty frames (averaged over clips); above `1 / (1 - δ)` it
/// is 0.
#[test]
fn guide_lambda_is_the_threshold() {
    let device = Device::flex();
    let x = input(&device);
    let (b, frames, delta) = (2usize, 40usize, 0.75);
    let run = |lambda: f64| {
        let out = layer(
            DiffResConfig::new(8)
                .with_delta(delta)
                .with_guide_lambda(lambda),
            &device,
        )
        .forward(x.clone(), None)
        .unwrap();
        (
            out.guide_loss.into_scalar::<f32>() as f64,
            read(out.score.unwrap()),
        )
    };
    let xs = read(x.clone());
    let (g0, score) = run(0.0);
    let (g_half, _) = run(0.5);
    let (g_big, _) = run(1.0 / (1.0 - delta) + 0.1);
    let mut per_clip = Vec::new();
    let mut per_clip_half = Vec::new();
    for s in 0..b {
        let energy: Vec<f64> = (0..frames)
            .map(|j| {
                (0..8)
                    .map(|f| (xs[(s * frames + j) * 8 + f] as f64).exp())
                    .sum::<f64>()
                    / 8.0
            })
            .collect();
        let loudest = energy.iter().cloned().fold(0.0, f64::max);
        let empty: Vec<usize> = (0..frames)
            .filter(|&j| energy[j] < diffres::DEFAULT_EMPTY_EPS * loudest)
            .collect();
        assert!(!empty.is_empty(), "the fixture has empty frames");
        let mean = |lambda: f64| {
            empty
                .iter()
                .map(|&j| (score[s * frames + j] as f64 / (1.0 - delta) - lambda).max(0.0))
                .sum::<f64>()
                / empty.len() as f64
        };
        per_clip.push(mean(0.0));
        per_clip_half.push(mean(0.5));
    }
    let want0 = per_clip.iter().sum::<f64>() / b as f64;
    let want_half = per_clip_half.iter().sum::<f64>() / b as f64;
    assert!((g0 - want0).abs() < 1e-5, "λ = 0: {g0} vs {want0}");
    assert!(
        (g_half - want_half).abs() < 1e-5,
        "λ = 0.5: {g_half} vs {want_half}"
    );
    assert!(g0 > g_half, "a lower threshold penalises more");
    assert_eq!(g_big, 0.0);
}

/// The equation-5 plan is the authors' mask (`masked_weight_sparse`: `s'_j` where
/// `k < C_j <= k + 1`) on every golden case.
#[test]
fn eq5_plan_matches_the_reference_mask() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/warp");
    let dir = std::env::var_os("DIFFRES_WARP_GOLDEN").map_or(dir, Into::into);
    if !dir.is_dir() {
        eprintln!("SKIP: no golden folder {}", dir.display());
        return;
    }
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.extension().is_none_or(|e| e != "json") || name.starts_with('_') {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let n = |k: &str| v[k].as_u64().unwrap() as usize;
        let (b, frames, t) = (n("B"), n("T"), n("t"));
        let score: Vec<f64> = v["score_norm"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
            .collect();
        // The reference's t can differ from ours by float error (see golden_warp.rs); its mask
        // is for its own t.
        let plan = WarpPlan::eq5(&score, b, frames, t);
        for (s, sample) in v["masked_weight_sparse"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let list = |k: &str| sample[k].as_array().unwrap().clone();
            let mut want: Vec<(usize, usize, f64)> = list("frame")
                .iter()
                .zip(list("out"))
                .zip(list("value"))
                .map(|((j, k), w)| {
                    (
                        j.as_u64().unwrap() as usize,
                        k.as_u64().unwrap() as usize,
                        w.as_f64().unwrap(),
                    )
                })
                .filter(|e| e.2 > 0.0)
                .collect();
            want.sort_by_key(|e| e.0);
            // The reference drops a last frame whose cumulative sum passes t by rounding
            // (frame_out_index -1); ours keeps it in the last row, with its whole score.
            let dropped: Vec<usize> = v["frame_out_index"][s]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .filter(|(_, k)| k.as_i64() == Some(-1))
                .map(|(j, _)| j)
                .collect();
            let (kept_end, got): (Vec<_>, Vec<_>) = plan
                .sparse(s)
                .into_iter()
                .partition(|e| dropped.contains(&e.0));
            for (j, k, w) in kept_end {
                assert_eq!(k, t - 1, "{name} clip {s}: frame {j}");
                assert_eq!(w, score[s * frames + j]);
            }
            assert_eq!(
                got.len(),
                want.len(),
                "{name} clip {s}: {got:?} vs {want:?}"
            );
            for (g, w) in got.iter().zip(&want) {
                assert_eq!((g.0, g.1), (w.0, w.1), "{name} clip {s}");
                assert!((g.2 - w.2).abs() < 1e-12, "{name} clip {s}: {g:?} vs {w:?}");
            }
        }
        checked += 1;
    }
    assert!(checked > 0, "no golden case in {}", dir.display());
    eprintln!("checked {checked} golden cases against the reference's equation-5 mask");
}
