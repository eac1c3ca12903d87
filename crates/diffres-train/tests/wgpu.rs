//! Training on a GPU through Burn's wgpu backend: one epoch equals the CPU's, and runs move
//! between devices (checkpoints hold plain values).
//!
//! Built only with `--features wgpu`; then it runs on whatever Vulkan device the system has
//! (Mesa's lavapipe in CI) and fails, not skips, when there is none.
#![cfg(feature = "wgpu")]

use std::collections::BTreeMap;
use std::path::Path;

use diffres::FrontEndKind;
use diffres_train::inference::{evaluate_run, load_run_on, predict_file, PredictOptions};
use diffres_train::model::ComputeDevice;
use diffres_train::reporter::Console;
use diffres_train::{train, RunDir, TrainConfig};

mod common;
use common::{first_clip, options, serial, tiny_config};

/// `(train_loss, val_loss)` of every epoch in `metrics.jsonl`.
fn losses(dir: &Path) -> Vec<(f64, f64)> {
    std::fs::read_to_string(RunDir::new(dir).metrics())
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                v["train_loss"].as_f64().unwrap(),
                v["val_loss"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Clip-level scores of every label for the tiny data's first clip.
fn scores(dir: &Path, device: ComputeDevice) -> BTreeMap<String, f32> {
    let run = load_run_on(dir, Some(device)).unwrap();
    let every_label = PredictOptions {
        threshold: Some(0.0),
        ..PredictOptions::default()
    };
    let p = predict_file(&run, &first_clip(), &every_label).unwrap();
    p.labels.into_iter().map(|l| (l.label, l.score)).collect()
}

fn config(device: ComputeDevice) -> TrainConfig {
    TrainConfig {
        epochs: 1,
        // Dropout draws from each backend's own generator: off, so both sides compute the same.
        dropout: 0.0,
        device,
        ..tiny_config(FrontEndKind::DiffRes)
    }
}

/// One epoch of DiffRes + the compact CNN from the same initial weights (drawn on the CPU and
/// moved) gives the CPU's losses; then each run is evaluated and predicted on the other device.
///
/// Tolerance: 1e-4 relative on the losses (measured on lavapipe: 4e-6). The first step's
/// gradients agree to ~1e-6; Adam divides each gradient by its own running magnitude, so
/// parameters whose gradient is nearly zero take steps of up to the learning rate in a
/// direction that rounding can flip, which the following steps carry into the losses.
#[test]
fn wgpu_one_epoch_matches_cpu_and_runs_move_between_devices() {
    let root = tempfile::tempdir().unwrap();
    let _serial = serial();
    let cpu_dir = root.path().join("cpu");
    let gpu_dir = root.path().join("wgpu");
    let on_cpu = train(&config(ComputeDevice::Cpu), &options(&cpu_dir)).unwrap();
    let on_gpu = train(&config(ComputeDevice::Wgpu), &options(&gpu_dir)).unwrap();

    let (a, b) = (losses(&cpu_dir), losses(&gpu_dir));
    assert_eq!(a.len(), 1);
    for ((ta, va), (tb, vb)) in a.iter().zip(&b) {
        eprintln!("train loss cpu {ta} wgpu {tb}; val loss cpu {va} wgpu {vb}");
        assert!(
            (ta - tb).abs() <= 1e-4 * ta.abs(),
            "train loss: cpu {ta}, wgpu {tb}"
        );
        assert!(
            (va - vb).abs() <= 1e-4 * va.abs(),
            "val loss: cpu {va}, wgpu {vb}"
        );
    }
    assert!(on_cpu.test_metric.is_some() && on_gpu.test_metric.is_some());

    // Each run on the other device: the same test metric as its own results.json, and the same
    // clip scores as on its own device (1e-4).
    for (dir, own, other, results) in [
        (&gpu_dir, ComputeDevice::Wgpu, ComputeDevice::Cpu, &on_gpu),
        (&cpu_dir, ComputeDevice::Cpu, ComputeDevice::Wgpu, &on_cpu),
    ] {
        let moved = load_run_on(dir, Some(other)).unwrap();
        let report = evaluate_run(&moved, None, None, &Console::quiet()).unwrap();
        // Accuracy is an arg-max: two classes whose probabilities agree to ~1e-6 may swap, so
        // at most one test clip may change its answer.
        let own_metric = results.test_metric.unwrap();
        assert!(
            (report.value - own_metric).abs() <= 1.0 / report.clips as f64 + 1e-9,
            "{own} run evaluated on {other}: {} vs {own_metric}",
            report.value
        );
        let (x, y) = (scores(dir, own), scores(dir, other));
        assert_eq!(x.len(), 9, "every label");
        assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>());
        for ((label, sa), sb) in x.iter().zip(y.values()) {
            assert!(
                (sa - sb).abs() < 1e-4,
                "{own} run on {other}: {label} {sa} vs {sb}"
            );
        }
    }
}
