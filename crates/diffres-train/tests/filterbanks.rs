//! Learnable filterbanks in the whole pipeline: `--filterbank tdfbank|sincnet|leaf`, alone or
//! with DiffRes, trains, resumes, evaluates, predicts and visualises; Table 3 from one call.

use diffres::FrontEndKind;
use diffres_train::filterbank::FilterbankKind;
use diffres_train::inference::{evaluate_run, load_run, predict_file, PredictOptions};
use diffres_train::reporter::Console;
use diffres_train::table3::{run_filterbanks, FilterbankSpec};
use diffres_train::{train, RunDir, TrainConfig, TrainError};

mod common;
use common::{first_clip, options, serial, tiny_config};

fn learned(filterbank: FilterbankKind, frontend: FrontEndKind) -> TrainConfig {
    TrainConfig {
        filterbank,
        ..tiny_config(frontend)
    }
}

#[test]
fn every_learnable_filterbank_trains_evaluates_predicts_and_draws_its_filters() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    for (kind, params) in [
        (FilterbankKind::TdFbank, 16 * 2 * 401),
        (FilterbankKind::SincNet, 16 * 2),
        (FilterbankKind::Leaf, 16 * 7),
    ] {
        let out = root.path().join(kind.name());
        let cfg = learned(kind, FrontEndKind::DiffRes);
        let results = train(&cfg, &options(&out)).unwrap_or_else(|e| panic!("{kind}: {e}"));
        // 40 frames of 10 ms = 6,400 samples in, ceil(6400 / 160) = 40 frames to DiffRes.
        assert_eq!(
            (results.frames_in, results.frames_out),
            (Some(40), Some(20)),
            "{kind}"
        );
        assert!((results.fps - 50.0).abs() < 1e-9, "{kind}: {}", results.fps);
        let diffres_params = {
            let fresh = diffres_train::model::AudioModel::new(
                &tiny_config(FrontEndKind::DiffRes),
                3,
                &burn::prelude::Device::flex(),
            )
            .unwrap();
            diffres::trainable_params(&fresh.frontend)
        };
        assert_eq!(results.frontend_params, params + diffres_params, "{kind}");
        let info = RunDir::new(&out).read_info().unwrap();
        assert_eq!(info.frames, 6400, "{kind}: the run's rows are samples");
        let run = load_run(&out).unwrap();
        let report = evaluate_run(&run, None, None, &Console::quiet()).unwrap();
        assert!(
            (report.value - results.test_metric.unwrap()).abs() < 1e-9,
            "{kind}"
        );
        let p = predict_file(&run, &first_clip(), &PredictOptions::default()).unwrap();
        assert!(
            (p.duration_s - 0.5).abs() < 0.02,
            "{kind}: {} s",
            p.duration_s
        );
        let total: f32 = p.labels.iter().map(|l| l.score).sum();
        assert!(total <= 1.0 + 1e-5 && total > 0.0, "{kind}");
        let figs = root.path().join(format!("{kind}-figures"));
        let filters = diffres_train::visualize::filterbank_figure(&run, &figs)
            .unwrap()
            .expect("a learnable filterbank has filters to draw");
        assert!(filters.is_file());
        let drawn = diffres_train::visualize::visualize_files(
            &run,
            &[first_clip()],
            diffres_train::visualize::Span::WHOLE,
            &figs,
            &Console::quiet(),
        )
        .unwrap();
        assert!(
            drawn.iter().any(|p| p.ends_with("beep_00000.png")),
            "{drawn:?}"
        );
    }
}

#[test]
fn a_resumed_leaf_run_equals_an_uninterrupted_one() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let cfg = TrainConfig {
        epochs: 3,
        mixup: 0.5,
        ..learned(FilterbankKind::Leaf, FrontEndKind::Identity)
    };
    let whole = train(&cfg, &options(&root.path().join("whole"))).unwrap();
    let dir = root.path().join("split");
    let mut first = options(&dir);
    first.stop_after = Some(1);
    assert!(matches!(train(&cfg, &first), Err(TrainError::Run { .. })));
    let mut again = options(&dir);
    again.resume = true;
    let resumed = train(&cfg, &again).unwrap();
    assert_eq!(resumed.test_metric, whole.test_metric);
    assert_eq!(
        resumed.best_val_metric.to_bits(),
        whole.best_val_metric.to_bits()
    );
}

#[test]
fn options_that_need_a_spectrogram_are_refused_with_a_learnable_filterbank() {
    for (cfg, needle) in [
        (
            TrainConfig {
                features: diffres_audio::FeatureKind::Kaldi,
                ..learned(FilterbankKind::Leaf, FrontEndKind::Identity)
            },
            "--features kaldi does not apply",
        ),
        (
            TrainConfig {
                normalize_from_training: true,
                ..learned(FilterbankKind::SincNet, FrontEndKind::Identity)
            },
            "--normalize is for spectrograms",
        ),
        (
            TrainConfig {
                specaugment: true,
                ..learned(FilterbankKind::TdFbank, FrontEndKind::Identity)
            },
            "SpecAugment",
        ),
    ] {
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn table_3_comes_from_one_call_with_the_parameter_counts() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let spec = FilterbankSpec {
        base: TrainConfig {
            epochs: 1,
            ..tiny_config(FrontEndKind::Identity)
        },
        filterbanks: FilterbankKind::ALL.to_vec(),
        diffres_hop_ms: Some(5.0),
        seeds: 1,
        out: root.path().to_path_buf(),
    };
    let md = run_filterbanks(&spec, None, &Console::quiet().shared()).unwrap();
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(
        lines[0], "| | Mel | TD-fbanks | SincNet | LEAF | Mel+DiffRes |",
        "{md}"
    );
    assert!(
        lines[2].starts_with("| Parameters | 0 | 13 k | 32 | 112 | "),
        "{md}"
    );
    assert!(lines[4].contains("100 (5 ms, 50%)"), "{md}");
    for file in ["table3.md", "table3.csv", "table3.png"] {
        assert!(root.path().join(file).is_file(), "{file}");
    }
    // The Mel+DiffRes run saw the same 0.4 s as the others: 80 frames of 5 ms.
    let diffres = RunDir::new(root.path().join("mel+diffres-hop-5ms").join("seed-7"));
    assert_eq!(diffres.read_info().unwrap().frames, 80);
    // Run again: every run is found finished, the table is the same.
    let again = run_filterbanks(&spec, None, &Console::quiet().shared()).unwrap();
    assert_eq!(again, md);
}
