//! Golden tests against PyTorch: PSLA's `EffNetAttention` (`../shared/reference/psla`, or the
//! folder named by `DIFFRES_PSLA_GOLDEN`) and the authors' `pydiffres.DiffRes`
//! (`../shared/reference/pydiffres`, or `DIFFRES_PYDIFFRES_GOLDEN`).
//!
//! Each folder holds `.pth` checkpoints, each with a `.json` of the same name giving an input
//! and PyTorch's outputs in eval mode. Every pair is loaded through our importer and run; a
//! file that does not parse fails the test. The weights, batch-norm affine parameters and
//! running statistics are random, so every tensor's mapping (names, layouts, the PSLA
//! orientation) shows in the outputs.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use diffres::warp::{warp, WarpPlan};
use diffres::{DiffResConfig, ScoreNormalization};
use diffres_models::{
    psla, pydiffres, Checkpoint, ClassifierConfig, ClassifierHead, ClassifierKind,
};
use serde_json::Value;

fn golden_dir(var: &str, default: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(default);
            dir.is_dir().then_some(dir)
        }
    }
}

/// Every `.pth` of the folder with its parsed `.json`.
fn pairs(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut pths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read golden folder {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pth"))
        .collect();
    pths.sort();
    assert!(
        !pths.is_empty(),
        "golden folder {} holds no *.pth",
        dir.display()
    );
    pths.into_iter()
        .map(|pth| {
            let json = pth.with_extension("json");
            let text = std::fs::read_to_string(&json).unwrap_or_else(|e| {
                panic!("{}: no readable {} ({e})", pth.display(), json.display())
            });
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} does not parse as JSON: {e}", json.display()));
            (pth, v)
        })
        .collect()
}

/// Nested arrays of numbers, flattened, with their shape.
fn array(v: &Value, what: &str) -> (Vec<usize>, Vec<f64>) {
    fn walk(v: &Value, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f64>, what: &str) {
        match v {
            Value::Array(a) => {
                if shape.len() <= depth {
                    shape.push(a.len());
                }
                a.iter().for_each(|x| walk(x, depth + 1, shape, out, what));
            }
            Value::Number(n) => out.push(n.as_f64().unwrap()),
            _ => panic!("{what} holds a non-number"),
        }
    }
    let (mut shape, mut out) = (Vec::new(), Vec::new());
    walk(v, 0, &mut shape, &mut out, what);
    assert_eq!(
        shape.iter().product::<usize>(),
        out.len(),
        "{what}: ragged array"
    );
    (shape, out)
}

fn get<'a>(v: &'a Value, key: &str, file: &Path) -> &'a Value {
    v.get(key)
        .unwrap_or_else(|| panic!("{}: missing key '{key}'", file.display()))
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().unwrap()
}

fn assert_close(file: &Path, what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{}: {what} length", file.display());
    let mut worst = 0.0f64;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g as f64 - w).abs();
        assert!(
            err <= tol,
            "{}: {what}[{i}] = {g}, PyTorch {w} (error {err:e})",
            file.display()
        );
        worst = worst.max(err);
    }
    eprintln!(
        "{}: {what} within {worst:.1e} (tolerance {tol:.0e})",
        file.display()
    );
}

#[test]
fn psla_checkpoints_give_pslas_probabilities() {
    let Some(dir) = golden_dir("DIFFRES_PSLA_GOLDEN", "../../../shared/reference/psla") else {
        eprintln!("SKIP: no PSLA golden folder (set DIFFRES_PSLA_GOLDEN)");
        return;
    };
    let device = Device::flex();
    let mut checked = 0;
    for (pth, v) in pairs(&dir) {
        let ckpt = Checkpoint::read(&pth).unwrap_or_else(|e| panic!("{e}"));
        let kind = match get(&v, "efficientnet", &pth).as_str() {
            Some("b0") => ClassifierKind::EfficientNetB0,
            Some("b2") => ClassifierKind::EfficientNetB2,
            other => panic!("{}: unknown efficientnet {other:?}", pth.display()),
        };
        let classes = get(&v, "classes", &pth).as_u64().unwrap() as usize;
        let heads = get(&v, "heads", &pth).as_u64().unwrap() as usize;
        let model = ClassifierConfig::new(kind, 1, classes)
            .with_attention_heads(heads)
            .with_head(ClassifierHead::Psla)
            .init(&device)
            .unwrap();
        let imported = psla::import(model, &ckpt).unwrap_or_else(|e| panic!("{e}"));
        let r = &imported.report;
        assert!(
            r.is_complete() && r.unused.is_empty(),
            "{}: {r}",
            pth.display()
        );
        // x [B, T, F] is our [B, 1, T, F]: time as height (PSLA transposes to [B, 1, F, T]).
        let (shape, x) = array(get(&v, "input", &pth), "input");
        let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let x = Tensor::<3>::from_data(TensorData::new(x, [shape[0], shape[1], shape[2]]), &device)
            .unsqueeze_dim::<4>(1);
        let net = imported.module.efficientnet().unwrap();
        let features = net.backbone().forward(x.clone());
        let (_, fshape) = array(get(&v, "effnet_features_shape", &pth), "features shape");
        let [b, c, fh, fw] = features.dims();
        assert_eq!(
            [b as f64, c as f64, fw as f64, fh as f64],
            fshape[..],
            "{}: backbone features (ours [B, C, t', F'], PyTorch's [B, C, F', t'])",
            pth.display()
        );
        let sum = values(features.clone().sum())[0] as f64;
        let want = get(&v, "effnet_features_sum", &pth).as_f64().unwrap();
        let abs = values(features.abs().sum())[0] as f64;
        let want_abs = get(&v, "effnet_features_abs_sum", &pth).as_f64().unwrap();
        assert!(
            (sum - want).abs() <= 1e-3 * want_abs && (abs - want_abs).abs() <= 1e-4 * want_abs,
            "{}: feature sums {sum} / {abs}, PyTorch {want} / {want_abs}",
            pth.display()
        );
        let probs = values(imported.module.forward(x));
        let (_, want) = array(get(&v, "output_probabilities", &pth), "probabilities");
        assert_close(&pth, "probabilities", &probs, &want, 1e-4);
        checked += 1;
    }
    println!("checked {checked} PSLA checkpoint(s)");
    eprintln!("checked {checked} PSLA checkpoint(s)");
}

#[test]
fn pydiffres_checkpoints_give_the_authors_scores_and_features() {
    let Some(dir) = golden_dir(
        "DIFFRES_PYDIFFRES_GOLDEN",
        "../../../shared/reference/pydiffres",
    ) else {
        eprintln!("SKIP: no pydiffres golden folder (set DIFFRES_PYDIFFRES_GOLDEN)");
        return;
    };
    let device = Device::flex();
    let mut checked = 0;
    for (pth, v) in pairs(&dir) {
        let ckpt = Checkpoint::read(&pth).unwrap_or_else(|e| panic!("{e}"));
        let mels = get(&v, "F", &pth).as_u64().unwrap() as usize;
        let delta = get(&v, "delta", &pth).as_f64().unwrap();
        let layer = DiffResConfig::new(mels)
            .with_delta(delta)
            .with_normalization(ScoreNormalization::Reference)
            .init(&device)
            .unwrap();
        let imported = pydiffres::import(layer, &ckpt).unwrap_or_else(|e| panic!("{e}"));
        let r = &imported.report;
        assert!(
            r.is_complete() && r.unused.is_empty(),
            "{}: {r}",
            pth.display()
        );
        assert!(imported.notes.is_empty(), "{:?}", imported.notes);
        let (shape, x) = array(get(&v, "input", &pth), "input");
        let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let x = Tensor::<3>::from_data(TensorData::new(x, [shape[0], shape[1], shape[2]]), &device);

        // The importance network alone: the raw sigmoid scores.
        let raw = values(imported.module.importance().forward(x.clone(), None));
        let (_, want) = array(get(&v, "raw_score", &pth), "raw_score");
        assert_close(&pth, "raw scores", &raw, &want, 1e-5);

        // The whole layer with the authors' normalisation.
        let out = imported.module.forward(x.clone(), None).unwrap();
        let score = values(out.score.unwrap());
        let (_, ref_score) = array(
            get(&v, "score_reference_norm", &pth),
            "score_reference_norm",
        );
        assert_close(&pth, "normalised scores", &score, &ref_score, 1e-5);
        let [b, _, t, f] = out.feature.dims();
        let channel = |feature: &Tensor<4>, c: usize| {
            values(feature.clone().narrow(1, c, 1).reshape([b, t, f]))
        };
        let (_, want_mean) = array(get(&v, "feature_mean_log", &pth), "feature_mean_log");
        let (_, want_enc) = array(
            get(&v, "feature_resolution_encoding", &pth),
            "feature_resolution_encoding",
        );
        assert_close(
            &pth,
            "resolution encoding",
            &channel(&out.feature, 2),
            &want_enc,
            1e-4,
        );

        // The warp of PyTorch's normalised scores. PyTorch normalised in float32 (25 frames
        // of 100 sum to 24.999997, each score is 0.24999997 where exact arithmetic gives
        // 0.25), so its rows also take a few 1e-7 of their neighbours' weight; where a
        // neighbour is 500 times louder than the row, that moves the log mean by up to 3e-3.
        // Warped with the same scores, the mean matches to 1e-4.
        let frames = shape[1];
        let plan = WarpPlan::new(&ref_score, b, frames, t);
        let s32: Vec<f32> = ref_score.iter().map(|&v| v as f32).collect();
        let s32 = Tensor::<2>::from_data(TensorData::new(s32, [b, frames]), &device);
        let pos_emb = &ckpt.tensors["pos_emb"];
        let pos =
            Tensor::<2>::from_data(TensorData::new(pos_emb.data.clone(), [frames, f]), &device);
        let warped = warp(x.clone(), s32, &plan, pos, &vec![frames; b], delta);
        assert_close(
            &pth,
            "mean channel (PyTorch's scores)",
            &channel(&warped.feature, 0),
            &want_mean,
            1e-4,
        );
        assert_close(
            &pth,
            "resolution encoding (PyTorch's scores)",
            &channel(&warped.feature, 2),
            &want_enc,
            1e-4,
        );

        // Our own scores: the same mean energy up to that float32 weight, which accumulates
        // over the rows to at most t * 2^-23 (3e-6 here) of a neighbouring frame.
        let xs = values(x);
        let ours = channel(&out.feature, 0);
        for (i, (&o, &w)) in ours.iter().zip(&want_mean).enumerate() {
            let (bi, bin) = (i / (t * f), i % f);
            let loudest = (0..frames)
                .map(|j| (xs[(bi * frames + j) * f + bin] as f64).exp())
                .fold(0.0, f64::max);
            let diff = ((o as f64).exp() - w.exp()).abs();
            assert!(
                diff <= 5e-6 * loudest,
                "{}: mean energy [{i}] differs by {diff:e} (loudest frame {loudest:e})",
                pth.display()
            );
        }
        checked += 1;
    }
    println!("checked {checked} pydiffres checkpoint(s)");
    eprintln!("checked {checked} pydiffres checkpoint(s)");
}
