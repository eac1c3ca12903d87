//! Nothing lost, nothing misleading: exact resume (ties included), one writer per run folder,
//! damaged checkpoints, state and cache entries, and prediction over long files.

use std::path::{Path, PathBuf};

use diffres::FrontEndKind;
use diffres_train::inference::{load_run, predict_file, predict_paths, PredictOptions};
use diffres_train::lock::RunLock;
use diffres_train::run::TrainState;
use diffres_train::{train, RunDir, TrainError};

mod common;
use common::{first_clip, options, recorded_numbers, serial, tiny_config};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_stored_best_score_reads_back_bit_for_bit() {
    // 26/27 printed by a shortest-round-trip writer and parsed without exact float parsing
    // comes back one ulp low (0.9629629629629629 -> ...628): after a resume, a later epoch
    // that tied the best then replaced it.
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path());
    let best = 26.0 / 27.0;
    let state = TrainState {
        epoch: 10,
        checkpoint: "epoch-010.bpk".into(),
        optimizer: "epoch-010.optim.bpk".into(),
        best_metric: best,
        best_epoch: 4,
        history: Vec::new(),
        elapsed_s: 0.1 + 0.2,
        ..TrainState::new()
    };
    run.write_state(&state).unwrap();
    let back = run
        .read_state(diffres_train::config::RUN_FORMAT_VERSION)
        .unwrap();
    assert_eq!(back.best_metric.to_bits(), best.to_bits());
    assert_eq!(back.elapsed_s.to_bits(), (0.1f64 + 0.2).to_bits());
    assert_eq!(back, state);
}

#[test]
fn a_run_killed_after_any_epoch_resumes_to_identical_files() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let mut cfg = tiny_config(FrontEndKind::DiffRes);
    cfg.epochs = 3;
    cfg.specaugment = true;
    cfg.log_every = 2;
    let whole_dir = root.path().join("whole");
    let whole = train(&cfg, &options(&whole_dir)).unwrap();
    for kill_after in 1..cfg.epochs {
        let dir = root.path().join(format!("killed-{kill_after}"));
        let mut first = options(&dir);
        first.stop_after = Some(kill_after);
        assert!(matches!(train(&cfg, &first), Err(TrainError::Run { .. })));
        // What a kill in the middle of a write leaves behind.
        let checkpoints = RunDir::new(&dir).checkpoints();
        std::fs::write(checkpoints.join("epoch-009.bpk.tmp"), "partial").unwrap();
        std::fs::write(checkpoints.join("best.bpk.tmp.4242.0"), "partial").unwrap();
        std::fs::write(dir.join("state.json.tmp"), "{").unwrap();
        // A kill after an epoch's steps were logged but before its checkpoint was recorded:
        // steps.jsonl has lines (one cut short) that the resumed run writes again.
        let steps = dir.join("steps.jsonl");
        let mut logged = read(&steps);
        let orphan = format!(
            "{{\"step\":999,\"epoch\":{},\"lr\":0.001,\"loss\":1.0,\"task_loss\":1.0,\"guide_loss\":0.0,\"activeness\":0.0}}\n{{\"step\":1000,\"ep",
            kill_after + 1
        );
        logged += &orphan;
        std::fs::write(&steps, logged).unwrap();
        let mut again = options(&dir);
        again.resume = true;
        let resumed = train(&cfg, &again).unwrap();
        assert_eq!(
            resumed.test_metric, whole.test_metric,
            "kill after {kill_after}"
        );
        assert_eq!(
            resumed.best_epoch, whole.best_epoch,
            "kill after {kill_after}"
        );
        assert_eq!(
            resumed.best_val_metric.to_bits(),
            whole.best_val_metric.to_bits()
        );
        // Every recorded number, to the last digit.
        assert_eq!(
            recorded_numbers(&dir.join("metrics.jsonl")),
            recorded_numbers(&whole_dir.join("metrics.jsonl")),
            "kill after {kill_after}"
        );
        // steps.jsonl as an uninterrupted run writes it, line for line.
        let whole_steps = read(&whole_dir.join("steps.jsonl"));
        assert_eq!(
            read(&steps),
            whole_steps,
            "steps.jsonl, kill after {kill_after}"
        );
        assert!(!whole_steps.is_empty() && !whole_steps.contains("\"step\":999"));
        let leftovers: Vec<String> = std::fs::read_dir(&checkpoints)
            .unwrap()
            .chain(std::fs::read_dir(&dir).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "stale temporaries: {leftovers:?}");
    }
}

#[test]
fn a_second_writer_on_the_same_run_folder_is_refused_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let out = root.path().join("run");
    std::fs::create_dir_all(&out).unwrap();
    // Another training holds the folder.
    let holder = RunLock::acquire(&out).unwrap();
    let err = train(&tiny_config(FrontEndKind::AvgPool), &options(&out))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is training into this folder"), "{err}");
    assert!(
        !out.join("config.json").exists(),
        "the refused run wrote its config"
    );
    drop(holder);
    // Released (as at the holder's exit, even a kill): the folder is usable again.
    train(&tiny_config(FrontEndKind::AvgPool), &options(&out)).unwrap();
}

/// Flips `count` bytes of `path` in its middle.
fn flip_bytes(path: &Path, count: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let start = bytes.len() / 3;
    let end = (start + count).min(bytes.len());
    for b in &mut bytes[start..end] {
        *b ^= 0x5a;
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn damaged_checkpoints_and_state_are_errors_that_name_the_file() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let out = root.path().join("run");
    let cfg = tiny_config(FrontEndKind::ConvAvgPool);
    train(&cfg, &options(&out)).unwrap();
    let run = RunDir::new(&out);
    let eval_before = out.join("eval.json");
    assert!(!eval_before.exists());

    let pristine = std::fs::read(run.best()).unwrap();
    flip_bytes(&run.best(), 400);
    let err = load_run(&out).err().expect("flipped bytes").to_string();
    assert!(
        err.contains("best.bpk") && err.contains("checksum"),
        "{err}"
    );
    // Truncated: a clear message, not the reader's raw I/O text.
    std::fs::write(run.best(), &pristine[..pristine.len() / 2]).unwrap();
    let err = load_run(&out).err().expect("truncated").to_string();
    assert!(
        err.contains("best.bpk") && err.contains("damaged or truncated"),
        "{err}"
    );
    std::fs::write(run.best(), &pristine).unwrap();
    assert!(load_run(&out).is_ok());

    // An edited state.json refuses to resume rather than continuing from wrong numbers.
    let mut more = cfg.clone();
    more.epochs = 3;
    let edited = read(&run.state()).replace("\"epoch\":2", "\"epoch\":1");
    std::fs::write(run.state(), edited).unwrap();
    let mut again = options(&out);
    again.resume = true;
    let err = train(&more, &again).unwrap_err().to_string();
    assert!(
        err.contains("state.json") && err.contains("checksum"),
        "{err}"
    );
}

#[test]
fn a_damaged_cache_entry_is_recomputed_and_gives_the_same_run() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let cache = root.path().join("cache");
    let cfg = tiny_config(FrontEndKind::AvgPool);
    let with_cache = |dir: &str| {
        let mut o = options(&root.path().join(dir));
        o.cache_dir = Some(cache.clone());
        train(&cfg, &o).unwrap()
    };
    let first = with_cache("first");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mel"))
        .collect();
    entries.sort();
    assert!(!entries.is_empty());
    let damaged = &entries[entries.len() / 2];
    let before = std::fs::read(damaged).unwrap();
    flip_bytes(damaged, 16);
    let second = with_cache("second");
    assert_eq!(second.test_metric, first.test_metric);
    assert_eq!(
        recorded_numbers(&root.path().join("second/metrics.jsonl")),
        recorded_numbers(&root.path().join("first/metrics.jsonl")),
        "the damaged entry's values were used"
    );
    assert_eq!(std::fs::read(damaged).unwrap(), before, "entry repaired");
}

/// A mono 16-bit WAV of `seconds` of quiet noise with a 1 kHz beep from `beep_at` seconds.
fn long_wav(path: &Path, seconds: f32, beep_at: Option<f32>) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (seconds * 16_000.0) as usize;
    let mut state = 12345u32;
    for i in 0..n {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.01;
        let t = i as f32 / 16_000.0;
        let beep = match beep_at {
            Some(at) if (at..at + 0.2).contains(&t) => {
                0.5 * (2.0 * std::f32::consts::PI * 1000.0 * t).sin()
            }
            _ => 0.0,
        };
        w.write_sample(((noise + beep) * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn prediction_slides_over_the_whole_file() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let out = root.path().join("run");
    train(&tiny_config(FrontEndKind::DiffRes), &options(&out)).unwrap();
    let run = load_run(&out).unwrap();
    let classes = run.info.classes.len();
    // The run's window: 40 frames (0.4 s); the files: 3 s, an event at 2.5 s in one of them.
    let quiet = root.path().join("quiet.wav");
    let event = root.path().join("event.wav");
    long_wav(&quiet, 3.0, None);
    long_wav(&event, 3.0, Some(2.5));
    let all = PredictOptions {
        top_k: classes,
        ..Default::default()
    };
    let q = predict_file(&run, &quiet, &all).unwrap();
    let e = predict_file(&run, &event, &all).unwrap();
    // 301 frames, windows of 40 every 20: starts 0, 20, ..., 260 and 261 (the end).
    assert_eq!(q.windows.len(), 15);
    assert_eq!(q.windows[0].start_s, 0.0);
    assert!((q.windows[1].start_s - 0.2).abs() < 1e-9);
    assert!((q.windows[14].end_s - q.duration_s).abs() < 1e-9);
    assert!((q.duration_s - 3.01).abs() < 1e-9);
    // Windows before the event see the same audio as the quiet file, those over it do not:
    // the answer depends on what happens at 2.5 s.
    let scores = |w: &diffres_train::predict::WindowScores| {
        let mut s: Vec<(String, f32)> = w
            .labels
            .iter()
            .map(|l| (l.label.clone(), l.score))
            .collect();
        s.sort_by(|a, b| a.0.cmp(&b.0));
        s
    };
    assert_eq!(scores(&q.windows[0]), scores(&e.windows[0]));
    assert_ne!(scores(&q.windows[13]), scores(&e.windows[13]));
    assert_ne!(q.labels, e.labels);
    // Single-label: the clip's score of each class is the mean of its windows' scores.
    for label in &e.labels {
        let mean = e
            .windows
            .iter()
            .map(|w| {
                w.labels
                    .iter()
                    .find(|l| l.label == label.label)
                    .unwrap()
                    .score
            })
            .sum::<f32>()
            / e.windows.len() as f32;
        assert!((mean - label.score).abs() < 1e-5, "{}", label.label);
    }
    // A custom hop: 1 s between starts (100 frames) -> starts 0, 100, 200, 261.
    let sparse = PredictOptions {
        window_hop_s: Some(1.0),
        ..Default::default()
    };
    assert_eq!(
        predict_file(&run, &quiet, &sparse).unwrap().windows.len(),
        4
    );
}

#[test]
fn prediction_of_a_folder_goes_on_past_bad_files() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let out = root.path().join("run");
    train(&tiny_config(FrontEndKind::AvgPool), &options(&out)).unwrap();
    let run = load_run(&out).unwrap();
    let folder = root.path().join("inputs");
    std::fs::create_dir_all(folder.join("nested")).unwrap();
    long_wav(&folder.join("a.wav"), 1.0, Some(0.3));
    long_wav(&folder.join("nested").join("b.wav"), 0.2, None);
    std::fs::write(folder.join("broken.wav"), "not audio").unwrap();
    std::fs::write(folder.join("notes.txt"), "ignored").unwrap();
    let missing = root.path().join("missing.wav");
    let (predictions, failures) = predict_paths(
        &run,
        &[folder.clone(), missing.clone()],
        &PredictOptions::default(),
    )
    .unwrap();
    let names: Vec<String> = predictions
        .iter()
        .map(|p| p.file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.wav", "b.wav"]);
    // A short file is one padded window ending at the file's end.
    assert_eq!(predictions[1].windows.len(), 1);
    assert!((predictions[1].windows[0].end_s - predictions[1].duration_s).abs() < 1e-9);
    let failed: Vec<&Path> = failures.iter().map(|f| f.file.as_path()).collect();
    assert_eq!(
        failed,
        [folder.join("broken.wav").as_path(), missing.as_path()]
    );
    assert!(
        failures[0].error.contains("broken.wav"),
        "{}",
        failures[0].error
    );
    // An empty folder is an error, not silence.
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(predict_paths(&run, &[empty], &PredictOptions::default()).is_err());
}

/// Rewrites a run folder as run format 1 wrote it: no checksum trailers, plain `state.json`,
/// Rust variant names in `config.json`.
fn downgrade_to_format_1(dir: &Path) {
    let run = RunDir::new(dir);
    for entry in std::fs::read_dir(run.checkpoints()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let payload = match diffres_train::integrity::unseal(&bytes).unwrap() {
            diffres_train::integrity::Unsealed::Verified(p) => p.to_vec(),
            diffres_train::integrity::Unsealed::NoTrailer(_) => {
                panic!("{} unsealed", path.display())
            }
        };
        std::fs::write(&path, payload).unwrap();
    }
    let state = run.read_state(2).unwrap();
    std::fs::write(run.state(), serde_json::to_string_pretty(&state).unwrap()).unwrap();
    let mut info: serde_json::Value = serde_json::from_str(&read(&run.config())).unwrap();
    info["format_version"] = 1.into();
    info["config"]["format_version"] = 1.into();
    info["config"]["model"] = "Cnn".into();
    info["config"]["score_norm"] = "ExactSum".into();
    std::fs::write(run.config(), info.to_string()).unwrap();
}

#[test]
fn runs_of_format_1_still_load_predict_and_resume() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let out = root.path().join("old");
    let mut cfg = tiny_config(FrontEndKind::DiffRes);
    train(&cfg, &options(&out)).unwrap();
    let before = {
        let run = load_run(&out).unwrap();
        predict_file(&run, &first_clip(), &PredictOptions::default()).unwrap()
    };
    downgrade_to_format_1(&out);
    let run = load_run(&out).unwrap();
    assert_eq!(run.info.format_version, 1);
    let after = predict_file(&run, &first_clip(), &PredictOptions::default()).unwrap();
    assert_eq!(
        before.labels, after.labels,
        "the same weights load without checksums"
    );
    // Resuming upgrades it: the files get their checksums and the run goes on.
    cfg.epochs = 3;
    let mut again = options(&out);
    again.resume = true;
    train(&cfg, &again).unwrap();
    let info = RunDir::new(&out).read_info().unwrap();
    assert_eq!(
        info.format_version,
        diffres_train::config::RUN_FORMAT_VERSION
    );
    let best = std::fs::read(RunDir::new(&out).best()).unwrap();
    assert!(matches!(
        diffres_train::integrity::unseal(&best),
        Ok(diffres_train::integrity::Unsealed::Verified(_))
    ));
    assert!(load_run(&out).is_ok());
}

#[test]
fn streamed_features_train_to_the_same_numbers_as_features_in_memory() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let mut cfg = tiny_config(FrontEndKind::DiffRes);
    cfg.specaugment = true;
    let run = |dir: &str, stream: bool| {
        let mut cfg = cfg.clone();
        cfg.stream = stream;
        let mut o = options(&root.path().join(dir));
        o.cache_dir = Some(root.path().join("cache"));
        train(&cfg, &o).unwrap()
    };
    let held = run("memory", false);
    let streamed = run("stream", true);
    assert_eq!(streamed.test_metric, held.test_metric);
    assert_eq!(
        recorded_numbers(&root.path().join("stream/metrics.jsonl")),
        recorded_numbers(&root.path().join("memory/metrics.jsonl"))
    );
    // Streaming needs somewhere to stream from.
    cfg.stream = true;
    let err = train(&cfg, &options(&root.path().join("no-cache")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("--cache-dir"), "{err}");
}
