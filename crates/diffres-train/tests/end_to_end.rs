//! End-to-end: tiny generated data, a few steps, every front end; resume; bad input.

use std::path::{Path, PathBuf};

use diffres::FrontEndKind;
use diffres_train::inference::{evaluate_run, load_run, predict_file, PredictOptions};
use diffres_train::reporter::Console;
use diffres_train::{train, RunDir, TrainConfig, TrainError};

mod common;
use common::{first_clip, options, serial, tiny_config, tiny_data};

#[test]
fn every_front_end_trains_evaluates_and_predicts() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    for kind in FrontEndKind::ALL {
        let out = root.path().join(kind.name());
        let results =
            train(&tiny_config(kind), &options(&out)).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(results.frontend, kind.name());
        assert!((0.0..=1.0).contains(&results.test_metric.unwrap()));
        assert_eq!(results.frames_in, Some(40));
        assert_eq!(
            results.frames_out,
            Some(if kind == FrontEndKind::Identity {
                40
            } else {
                20
            })
        );
        let run = RunDir::new(&out);
        for file in [
            "config.json",
            "metrics.jsonl",
            "results.json",
            "curves.png",
            "activeness.png",
        ] {
            assert!(out.join(file).is_file(), "{kind}: {file} missing");
        }
        assert!(run.best().is_file());
        let lines = std::fs::read_to_string(run.metrics()).unwrap();
        assert_eq!(
            lines.lines().count(),
            2,
            "{kind}: one metrics line per epoch"
        );

        let loaded = load_run(&out).unwrap();
        let report = evaluate_run(&loaded, None, None, &Console::quiet()).unwrap();
        // Evaluating the best checkpoint on the test split reproduces results.json.
        assert!(
            (report.value - results.test_metric.unwrap()).abs() < 1e-9,
            "{kind}"
        );
        let clip = std::fs::read_dir(tiny_data().parent().unwrap().join("audio").join("beep"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let predictions = predict_file(&loaded, &clip, &PredictOptions::default()).unwrap();
        let top = &predictions.labels;
        assert_eq!(top.len(), 3);
        assert!(top[0].score >= top[1].score && top[1].score >= top[2].score);
        let total: f32 = top.iter().map(|p| p.score).sum();
        assert!(total <= 1.0 + 1e-5);
        analysis_figures_of(kind, &loaded, &out);
    }
}

/// (width, height) of a PNG, read back.
fn png_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (img.width(), img.height())
}

/// `visualize` of a trained run: Figure 4 for a clip, its warp matrix (Figure 11) for DiffRes
/// only, and the test confusion matrix (the tiny dataset is single-label).
fn analysis_figures_of(kind: FrontEndKind, run: &diffres_train::inference::LoadedRun, dir: &Path) {
    use diffres_train::analysis_figures::confusion_figures;
    use diffres_train::visualize::{visualize_files, Span};
    let figs = dir.join("figs");
    let clip = first_clip();
    let written = visualize_files(
        run,
        std::slice::from_ref(&clip),
        Span::WHOLE,
        &figs,
        &Console::quiet(),
    )
    .unwrap_or_else(|e| panic!("{kind}: {e}"));
    let stem = clip.file_stem().unwrap().to_string_lossy().into_owned();
    let warp = figs.join(format!("{stem}-warp.png"));
    assert_eq!(png_size(&figs.join(format!("{stem}.png"))), (1200, 1000));
    if kind == FrontEndKind::DiffRes {
        assert_eq!(written.len(), 2, "{kind}: {written:?}");
        assert_eq!(png_size(&warp), (1000, 700), "{kind}");
    } else {
        assert_eq!(written.len(), 1, "{kind}: {written:?}");
        assert!(!warp.exists(), "{kind}: a baseline has no warp matrix");
    }
    let confusion = confusion_figures(dir, &run.info.classes, None, &figs).unwrap();
    assert!(confusion.notes.is_empty(), "{kind}: {:?}", confusion.notes);
    assert_eq!(confusion.written, vec![figs.join("confusion.png")]);
    assert_eq!(png_size(&figs.join("confusion.png")), (1000, 900));
    // The eval.json `evaluate_run` wrote above draws one too.
    let eval = dir.join("eval.json");
    let both = confusion_figures(dir, &run.info.classes, Some(&eval), &figs).unwrap();
    assert_eq!(both.written.len(), 2, "{kind}");
    assert_eq!(png_size(&figs.join("confusion-eval.png")), (1000, 900));
}

#[test]
fn a_resumed_run_equals_an_uninterrupted_one() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let mut cfg = tiny_config(FrontEndKind::DiffRes);
    cfg.epochs = 3;
    cfg.specaugment = true;
    cfg.mixup = 0.5;
    let whole = train(&cfg, &options(&root.path().join("whole"))).unwrap();

    let split = root.path().join("split");
    let mut first = options(&split);
    first.stop_after = Some(1);
    let stopped = train(&cfg, &first);
    assert!(
        matches!(stopped, Err(TrainError::Run { .. })),
        "stopping early is reported"
    );
    assert!(
        !split.join("results.json").exists(),
        "no results before the run ends"
    );
    let mut again = options(&split);
    again.resume = true;
    let resumed = train(&cfg, &again).unwrap();

    assert_eq!(whole.test_metric, resumed.test_metric);
    assert_eq!(whole.best_epoch, resumed.best_epoch);
    let read = |dir: &Path| -> Vec<(f64, f64)> {
        diffres_train::visualize::read_metrics(&dir.join("metrics.jsonl"))
            .unwrap()
            .iter()
            .map(|m| (m.train_loss, m.val_loss))
            .collect()
    };
    let (a, b) = (read(&root.path().join("whole")), read(&split));
    assert_eq!(a.len(), 3);
    for ((la, va), (lb, vb)) in a.iter().zip(&b) {
        assert!(
            (la - lb).abs() < 1e-5 && (va - vb).abs() < 1e-5,
            "{a:?} vs {b:?}"
        );
    }
}

#[test]
fn bad_input_gives_clear_errors() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    // Missing dataset.
    let mut cfg = tiny_config(FrontEndKind::AvgPool);
    cfg.data = root.path().join("nope");
    let err = train(&cfg, &options(&root.path().join("a")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");

    // Reduction out of range.
    let mut cfg = tiny_config(FrontEndKind::DiffRes);
    cfg.reduction = 1.2;
    let err = train(&cfg, &options(&root.path().join("b")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("--reduction 1.2"), "{err}");

    // A run folder is not overwritten, and resuming with another front end is refused.
    let out = root.path().join("c");
    train(&tiny_config(FrontEndKind::AvgPool), &options(&out)).unwrap();
    let err = train(&tiny_config(FrontEndKind::AvgPool), &options(&out))
        .unwrap_err()
        .to_string();
    assert!(err.contains("already holds a run"), "{err}");
    let mut resume = options(&out);
    resume.resume = true;
    let err = train(&tiny_config(FrontEndKind::DiffRes), &resume)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--frontend avgpool, not diffres"), "{err}");

    // A checkpoint for another front end does not load.
    let info_path = out.join("config.json");
    let mut info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&info_path).unwrap()).unwrap();
    info["config"]["frontend"] = "diffres".into();
    std::fs::write(&info_path, info.to_string()).unwrap();
    let err = load_run(&out)
        .err()
        .expect("mismatched checkpoint")
        .to_string();
    assert!(
        err.contains("best.bpk") && err.contains("does not fit"),
        "{err}"
    );

    // A run folder from another version.
    info["format_version"] = 99.into();
    std::fs::write(&info_path, info.to_string()).unwrap();
    let err = load_run(&out)
        .err()
        .expect("incompatible version")
        .to_string();
    assert!(
        err.contains("written with format 99") && err.contains("reads formats 1 to 2"),
        "{err}"
    );
}

#[test]
fn corrupt_audio_is_skipped_and_counted_or_fails_with_strict() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let data = root.path().join("folders");
    for class in ["a", "b"] {
        std::fs::create_dir_all(data.join(class)).unwrap();
        for i in 0..4 {
            let samples: Vec<f32> = (0..4000)
                .map(|n| ((n * (i + 1)) as f32 * if class == "a" { 0.05 } else { 0.3 }).sin() * 0.5)
                .collect();
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: 16000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w =
                hound::WavWriter::create(data.join(class).join(format!("{i}.wav")), spec).unwrap();
            for s in samples {
                w.write_sample((s * 32767.0) as i16).unwrap();
            }
            w.finalize().unwrap();
        }
    }
    std::fs::write(data.join("a").join("broken.wav"), "this is not audio").unwrap();
    let mut cfg = tiny_config(FrontEndKind::AvgPool);
    cfg.data = data.clone();
    cfg.format = diffres_data::Format::Auto;
    cfg.epochs = 1;
    cfg.val_fraction = 0.25;
    cfg.test_fraction = 0.0;
    let results = train(&cfg, &options(&root.path().join("lenient"))).unwrap();
    assert_eq!(results.skipped_files, 1);
    // No test split: no test metrics, rather than those of clips seen in training.
    assert_eq!(results.evaluated_on, "none");
    assert_eq!(results.test_metric, None);
    cfg.strict = true;
    let err = train(&cfg, &options(&root.path().join("strict")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken.wav"), "{err}");
    assert!(!root.path().join("strict").join("results.json").exists());
}

#[test]
fn eval_refuses_labels_the_run_never_saw() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let out = root.path().join("run");
    train(&tiny_config(FrontEndKind::ChangeHopSize), &options(&out)).unwrap();
    let csv = root.path().join("other.csv");
    let clip = tiny_data().parent().unwrap().join("audio").join("beep");
    let first = std::fs::read_dir(&clip)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&csv, format!("path,label\n{},thunder\n", first.display())).unwrap();
    let run = load_run(&out).unwrap();
    let err = evaluate_run(&run, Some(&csv), None, &Console::quiet())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("'thunder'"), "{err}");
}

#[test]
fn experiment_grid_writes_the_table_and_resumes() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let mut base = tiny_config(FrontEndKind::DiffRes);
    base.epochs = 1;
    let spec = diffres_train::experiment::ExperimentSpec {
        base,
        frontends: vec![FrontEndKind::AvgPool, FrontEndKind::DiffRes],
        reductions: vec![0.5],
        seeds: 2,
        out: root.path().join("grid"),
    };
    let cells = spec.cells().unwrap();
    assert_eq!(
        cells.len(),
        6,
        "per seed: baseline + 2 front ends x 1 reduction"
    );
    assert_eq!(cells[0].frontend, FrontEndKind::Identity);
    let table =
        diffres_train::experiment::run_experiment(&spec, None, &Console::quiet().shared()).unwrap();
    assert_eq!(table.rows.len(), 1);
    let md = std::fs::read_to_string(spec.out.join("table.md")).unwrap();
    assert!(
        md.contains("Baseline (identity, 100 FPS)")
            && md.contains("AvgPool")
            && md.contains("DiffRes"),
        "{md}"
    );
    let csv = std::fs::read_to_string(spec.out.join("table.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "header, baseline, two cells: {csv}");
    assert!(spec.out.join("table.png").is_file());
    // A rerun trains nothing: every results.json stays as it was.
    let stamp = |c: &diffres_train::experiment::Cell| {
        std::fs::metadata(c.dir.join("results.json"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before: Vec<_> = cells.iter().map(stamp).collect();
    diffres_train::experiment::run_experiment(&spec, None, &Console::quiet().shared()).unwrap();
    let after: Vec<_> = cells.iter().map(stamp).collect();
    assert_eq!(before, after);
    // Bad grids are refused.
    let mut bad = spec.clone();
    bad.reductions = vec![1.0];
    assert!(bad.cells().is_err());
}

#[test]
fn real_data_pipelines_when_present() {
    let shared = std::env::var_os("DIFFRES_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let commands = shared.join("speech_commands_v0.01_sample");
    if !commands.is_dir() {
        eprintln!("SKIP: {} is absent", commands.display());
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    // Speech Commands sample: its own split lists, 30 words, 1 s at 16 kHz.
    let cfg = TrainConfig {
        data: commands,
        format: diffres_data::Format::SpeechCommands,
        frontend: FrontEndKind::DiffRes,
        reduction: 0.5,
        mels: 32,
        epochs: 1,
        batch_size: 32,
        cnn_width: 4,
        ..TrainConfig::default()
    };
    let results = train(&cfg, &options(&root.path().join("sc"))).unwrap();
    assert_eq!(
        results.frames_in,
        Some(101),
        "1 s at a 10 ms hop, centred frames"
    );
    assert_eq!(results.clips, [205, 44, 51]);
    // FSDD (8 kHz FLAC, resampled): features for the official split.
    let fsdd = TrainConfig {
        data: shared.join("fsdd"),
        format: diffres_data::Format::Fsdd,
        mels: 32,
        ..cfg
    };
    let data = diffres_train::data::prepare(&fsdd, None, &Console::quiet()).unwrap();
    assert_eq!(data.indices(diffres_data::Split::Test).len(), 300);
    assert!(data.skipped.is_empty());
}

#[test]
fn multi_label_csv_trains_with_bce_and_reports_map() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    // Label each synthetic clip with its class and a coarse group: two labels per clip.
    let source = tiny_data();
    let text = std::fs::read_to_string(&source).unwrap();
    let mut rows = vec!["path,labels,split".to_string()];
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let path = source.parent().unwrap().join(cols[0]);
        let group = if cols[1].contains("beep") || cols[1].contains("chirp") {
            "tonal"
        } else {
            "other"
        };
        rows.push(format!(
            "{},{};{},{}",
            path.display(),
            cols[1],
            group,
            cols[2]
        ));
    }
    let csv = root.path().join("multi.csv");
    std::fs::write(&csv, rows.join("\n")).unwrap();
    let mut cfg = tiny_config(FrontEndKind::DiffRes);
    cfg.data = csv;
    let results = train(&cfg, &options(&root.path().join("run"))).unwrap();
    assert_eq!(results.metric, "mAP");
    let test = results.test.as_ref().unwrap();
    assert!(test.map.is_some() && test.d_prime.is_some());
    let info = RunDir::new(root.path().join("run")).read_info().unwrap();
    assert!(info.multi_label);
    assert!(info.classes.contains(&"tonal".to_string()));
    let run = load_run(&root.path().join("run")).unwrap();
    let clip = first_clip();
    let opts = PredictOptions {
        top_k: 5,
        ..Default::default()
    };
    let p = predict_file(&run, &clip, &opts).unwrap();
    // Sigmoid outputs: independent probabilities, not a distribution.
    assert!(p.labels.iter().all(|l| (0.0..=1.0).contains(&l.score)));
}
