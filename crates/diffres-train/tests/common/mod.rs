//! Shared by the integration tests: a tiny generated dataset, a tiny configuration, the
//! training lock.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use diffres::FrontEndKind;
use diffres_data::synth::{write_dataset, SynthConfig};
use diffres_train::{TrainConfig, TrainOptions};

/// Burn's random number generator is per process: trainings in parallel test threads would
/// draw from it in an interleaved order. Every test that trains holds this lock.
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    TRAINING.lock().unwrap_or_else(|e| e.into_inner())
}

/// A tiny synthetic dataset, written once per test binary.
pub fn tiny_data() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("diffres-e2e-data-{}", std::process::id()));
        let cfg = SynthConfig {
            clips_per_class: 5,
            seconds: 0.5,
            seed: 3,
            val_fraction: 0.2,
            test_fraction: 0.2,
            ..Default::default()
        };
        write_dataset(&dir, &cfg).expect("synthetic data")
    })
    .clone()
}

pub fn tiny_config(frontend: FrontEndKind) -> TrainConfig {
    TrainConfig {
        data: tiny_data(),
        format: diffres_data::Format::Csv,
        frontend,
        reduction: if frontend == FrontEndKind::Identity {
            0.0
        } else {
            0.5
        },
        mels: 16,
        frames: Some(40),
        epochs: 2,
        batch_size: 8,
        lr: 1e-3,
        cnn_width: 4,
        seed: 7,
        ..TrainConfig::default()
    }
}

pub fn options(out: &Path) -> TrainOptions {
    TrainOptions::new(out)
}

/// The first clip (by name) of the tiny dataset's `beep` class.
pub fn first_clip() -> PathBuf {
    let dir = tiny_data().parent().unwrap().join("audio").join("beep");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.remove(0)
}

/// The lines of a `metrics.jsonl` as they are written, without the wall-clock fields.
pub fn recorded_numbers(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            let m = v.as_object_mut().unwrap();
            m.remove("time_s");
            m.remove("clips_per_s");
            v.to_string()
        })
        .collect()
}
