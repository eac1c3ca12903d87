//! The options a paper recipe needs: BCE for single-label data, waveform mixup, SpecAugment
//! widths, normalisation measured on the training features, warm-up, Adam's beta1 and weight
//! decay, and weight averaging, each with a known answer; and a run using all of them resumes
//! to the same numbers.

use std::path::Path;

use diffres::FrontEndKind;
use diffres_audio::{load_audio, FeatureExtractor};
use diffres_data::Split;
use diffres_models::checkpoint::collect;
use diffres_train::batch::{mix_pairs, MixupDomain, RngStream};
use diffres_train::data::prepare;
use diffres_train::inference::{evaluate_run, load_run};
use diffres_train::loss::LossKind;
use diffres_train::reporter::Console;
use diffres_train::trainer::step::augmented_batch;
use diffres_train::{train, RunDir, TrainConfig, TrainError};

mod common;
use common::{options, recorded_numbers, serial, tiny_config};

/// Every option a recipe sets, on the tiny dataset.
fn recipe_like_config() -> TrainConfig {
    TrainConfig {
        epochs: 3,
        loss: LossKind::Bce,
        mixup: 1.0,
        mixup_on: MixupDomain::Waveform,
        specaugment: true,
        freq_mask: Some(4),
        time_mask: Some(6),
        normalize_from_training: true,
        average_from: Some(2),
        warmup_steps: 4,
        adam_beta1: 0.95,
        weight_decay: 5e-7,
        log_every: 1,
        ..tiny_config(FrontEndKind::DiffRes)
    }
}

#[test]
fn normalisation_from_the_training_features_gives_them_mean_0_and_std_one_half() {
    let cfg = TrainConfig {
        normalize_from_training: true,
        // Longer than every clip: the valid frames are all of each clip's frames.
        frames: Some(60),
        ..tiny_config(FrontEndKind::DiffRes)
    };
    let data = prepare(&cfg, None, &Console::quiet()).unwrap();
    let n = data.normalization.expect("measured");
    assert!(n.std > 0.0);
    let (mut sum, mut sum_sq, mut count) = (0f64, 0f64, 0f64);
    for i in data.indices(Split::Train) {
        let mut x = Vec::new();
        let valid = data.append_features(i, &mut x).unwrap();
        for &v in &x[..valid * data.mels] {
            sum += v as f64;
            sum_sq += v as f64 * v as f64;
            count += 1.0;
        }
    }
    let mean = sum / count;
    let std = (sum_sq / count - mean * mean).sqrt();
    // PSLA's (x - mean) / (2 std) of the values it was measured on: mean 0, std 1/2.
    assert!(mean.abs() < 1e-4, "mean {mean}");
    assert!((std - 0.5).abs() < 1e-4, "std {std}");
    assert!((data.pad_value() - n.apply(cfg.log_mel().silence_value())).abs() < 1e-6);
}

#[test]
fn waveform_mixup_gives_the_features_of_the_mixed_waveforms() {
    let cfg = TrainConfig {
        mixup: 1.0,
        mixup_on: MixupDomain::Waveform,
        ..tiny_config(FrontEndKind::DiffRes)
    };
    let data = prepare(&cfg, None, &Console::quiet()).unwrap();
    let chunk: Vec<usize> = data.indices(Split::Train)[..4].to_vec();
    let (epoch, step) = (2, 5);
    let batch = augmented_batch(&data, &chunk, &cfg, epoch, step).unwrap();
    // The same draws, and the mix computed here from the files.
    let pairs = mix_pairs(4, 1.0, &mut RngStream::Mixup.rng(cfg.seed, epoch, step));
    assert_eq!(pairs.len(), 4, "rate 1 mixes every clip");
    let extractor = FeatureExtractor::new(cfg.feature_config(), None).unwrap();
    let wave = |i: usize| {
        let mut w = load_audio(&data.dataset.clips[chunk[i]].path, cfg.sample_rate).unwrap();
        let mean = w.iter().map(|&v| v as f64).sum::<f64>() / w.len() as f64;
        w.iter_mut().for_each(|v| *v -= mean as f32);
        w
    };
    let per_clip = data.frames * data.mels;
    let classes = data.dataset.classes.len();
    for p in &pairs {
        let (mine, theirs) = (wave(p.clip), wave(p.partner));
        let mix: Vec<f32> = (0..mine.len())
            .map(|k| p.lambda * mine[k] + (1.0 - p.lambda) * theirs.get(k).copied().unwrap_or(0.0))
            .collect();
        let spec = extractor.extract_samples(&mix).unwrap().spec;
        let (want, _) = spec.fit_frames(data.frames, data.pad_value());
        let got = &batch.x[p.clip * per_clip..(p.clip + 1) * per_clip];
        let worst = got
            .iter()
            .zip(&want.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-5, "clip {}: {worst}", p.clip);
        // Targets mixed with the same weight.
        let label = |i: usize| data.dataset.clips[chunk[i]].labels[0];
        let t = &batch.targets[p.clip * classes..(p.clip + 1) * classes];
        let mut want_t = vec![0f32; classes];
        want_t[label(p.clip)] += p.lambda;
        want_t[label(p.partner)] += 1.0 - p.lambda;
        for (a, b) in t.iter().zip(&want_t) {
            assert!((a - b).abs() < 1e-6, "targets {t:?} vs {want_t:?}");
        }
    }
}

#[test]
fn a_run_with_every_recipe_option_averages_weights_and_resumes_to_the_same_numbers() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let cfg = recipe_like_config();
    let whole_dir = root.path().join("whole");
    let whole = train(&cfg, &options(&whole_dir)).unwrap();
    assert_eq!(whole.evaluated_model.as_deref(), Some("averaged"));
    assert_eq!(whole.averaged_epochs, Some([2, 3]));
    assert!(whole.averaged_val_metric.is_some() && whole.best_epoch_test_metric.is_some());
    let run = RunDir::new(&whole_dir);
    assert!(run.averaged().is_file());
    assert_eq!(run.evaluated_model(), run.averaged());
    // The measured normalisation is what config.json keeps for eval and predict.
    let info = run.read_info().unwrap();
    assert!(info.config.normalize.is_some() && info.config.normalize_from_training);
    // eval uses the averaged model: it reproduces the test metric of results.json.
    let loaded = load_run(&whole_dir).unwrap();
    let report = evaluate_run(&loaded, None, None, &Console::quiet()).unwrap();
    assert!((report.value - whole.test_metric.unwrap()).abs() < 1e-9);
    // Warm-up over 4 steps (one rate change per step): 0, 1/4, 2/4, 3/4 of the rate, then 1.
    let steps = diffres_train::steps::read_steps(&run.steps()).unwrap();
    let rates: Vec<f64> = steps.iter().take(5).map(|s| s.lr / cfg.lr).collect();
    let want = [0.0, 0.25, 0.5, 0.75, 1.0];
    assert_eq!(rates.len(), want.len(), "{} steps logged", steps.len());
    for (got, want) in rates.iter().zip(want) {
        assert!((got - want).abs() < 1e-12, "{rates:?}");
    }

    for kill_after in [1, 2] {
        let dir = root.path().join(format!("killed-{kill_after}"));
        let mut first = options(&dir);
        first.stop_after = Some(kill_after);
        assert!(matches!(train(&cfg, &first), Err(TrainError::Run { .. })));
        let mut again = options(&dir);
        again.resume = true;
        let resumed = train(&cfg, &again).unwrap();
        assert_eq!(
            resumed.test_metric, whole.test_metric,
            "kill after {kill_after}"
        );
        assert_eq!(
            resumed.averaged_val_metric, whole.averaged_val_metric,
            "kill after {kill_after}"
        );
        assert_eq!(
            recorded_numbers(&dir.join("metrics.jsonl")),
            recorded_numbers(&whole_dir.join("metrics.jsonl")),
            "kill after {kill_after}"
        );
        // The averaged weights, value for value (the files also hold parameter ids, which
        // every process draws anew).
        let weights = |d: &Path| collect(&load_run(d).unwrap().model, false);
        assert!(
            weights(&dir) == weights(&whole_dir),
            "the averaged weights differ, kill after {kill_after}"
        );
        // Only the last epoch's files and the last average remain.
        let mut files: Vec<String> = std::fs::read_dir(RunDir::new(&dir).checkpoints())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(
            files,
            [
                "average-003.bpk",
                "averaged.bpk",
                "best.bpk",
                "epoch-003.bpk",
                "epoch-003.optim.bpk"
            ]
        );
    }
}

#[test]
fn bce_trains_a_single_label_task_and_ce_refuses_psla_probabilities() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let cfg = TrainConfig {
        loss: LossKind::Bce,
        epochs: 1,
        ..tiny_config(FrontEndKind::Identity)
    };
    let results = train(&cfg, &options(&root.path().join("bce"))).unwrap();
    // Sigmoid probabilities: a clip's probabilities need not sum to 1 (softmax's do).
    let run = load_run(&root.path().join("bce")).unwrap();
    let p = diffres_train::inference::predict_file(
        &run,
        &common::first_clip(),
        &diffres_train::inference::PredictOptions {
            top_k: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let total: f32 = p.labels.iter().map(|l| l.score).sum();
    assert!((total - 1.0).abs() > 1e-3, "sigmoid outputs sum to {total}");
    assert!(results.test_metric.is_some());
    let bad = TrainConfig {
        loss: LossKind::Ce,
        head: diffres_models::ClassifierHead::Psla,
        model: diffres_models::ClassifierKind::EfficientNetB0,
        ..tiny_config(FrontEndKind::Identity)
    };
    let err = train(&bad, &options(&root.path().join("ce"))).unwrap_err();
    assert!(err.to_string().contains("--loss ce"), "{err}");
}
