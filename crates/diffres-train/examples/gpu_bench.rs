//! GPU benchmark: the layer's forward + backward and training throughput, as JSON lines.
//!
//! ```text
//! cargo build --release -p diffres-train --features wgpu --example gpu_bench
//! target/release/examples/gpu_bench [--device wgpu|vulkan|cpu] [--quick] [--reps N] [--json]
//! ```
//! The output is always JSON lines (`--json` is accepted, as every benchmark here takes it).
//! Built here and carried to a machine with a GPU (no Rust needed there): see
//! `bench/gpu/run.sh`. One JSON object per line:
//! - `{"bench": "layer", "frontend", "frames", "batch", "mels", "fwd_bwd_s"}`: forward +
//!   backward of `feature.sum() + guide_loss`, batch 32, F = 128, T = 1,000 / 3,000 / 10,000,
//!   DiffRes at delta = 0.75 and the 100-FPS identity baseline (no reduction);
//! - `{"bench": "train", "model", "frontend", "frames", "batch", "clips_per_s"}`: forward +
//!   backward + Adam of the compact CNN and EfficientNet-B2 behind DiffRes (delta = 0.75) and
//!   behind the 100-FPS baseline, batch 32, 3 s clips (300 frames, 128 mel bins).
//!
//! Each figure is the median of `--reps` timed repetitions (default 5) after one warm-up (which
//! compiles the device's kernels), with `device.sync()` before each clock read.

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use diffres::{FrontEndConfig, FrontEndKind};
use diffres_models::ClassifierKind;
use diffres_train::loss::{LossKind, OutputKind};
use diffres_train::model::{device, fork_drawn, AudioModel, ComputeDevice};
use diffres_train::TrainConfig;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Seconds per call of `f` (median of `reps` after one warm-up).
fn time(device: &Device, reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    device.sync().expect("device sync");
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        f();
        device.sync().expect("device sync");
        times.push(start.elapsed().as_secs_f64());
    }
    median(times)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let kind: ComputeDevice = arg("--device")
        .unwrap_or_else(|| "wgpu".into())
        .parse()
        .expect("--device cpu, wgpu or vulkan");
    let reps: usize =
        arg("--reps").map_or(if quick { 1 } else { 5 }, |r| r.parse().expect("--reps N"));
    let base = device(kind).expect("this build has the device");
    let train_device = base.clone().autodiff();
    let batch = if quick { 4 } else { 32 };
    let mels = 128;
    let cases = [(FrontEndKind::DiffRes, 0.75), (FrontEndKind::Identity, 0.0)];

    let lengths: &[usize] = if quick {
        &[1000]
    } else {
        &[1000, 3000, 10_000]
    };
    for &frames in lengths {
        for (frontend, delta) in cases {
            let init = Device::flex().autodiff();
            init.seed(0);
            let layer = FrontEndConfig::new(frontend, mels)
                .with_delta(delta)
                .init(&init)
                .expect("valid front end");
            let layer = fork_drawn(layer, &train_device);
            let x = Tensor::<3>::random(
                [batch, frames, mels],
                Distribution::Normal(-5.0, 2.0),
                &train_device,
            );
            let s = time(&train_device, reps, || {
                let x = x.clone().require_grad();
                let out = layer.forward(x, None).expect("forward");
                let _ = (out.feature.sum() + out.guide_loss).backward();
            });
            println!(
                "{{\"bench\": \"layer\", \"device\": \"{kind}\", \"frontend\": \"{frontend}\", \"frames\": {frames}, \"batch\": {batch}, \"mels\": {mels}, \"fwd_bwd_s\": {s:.6}}}"
            );
        }
    }

    let (frames, classes) = (300usize, 10usize);
    let models: &[ClassifierKind] = if quick {
        &[ClassifierKind::Cnn]
    } else {
        &[ClassifierKind::Cnn, ClassifierKind::EfficientNetB2]
    };
    for &model_kind in models {
        for (frontend, delta) in cases {
            let cfg = TrainConfig {
                frontend,
                reduction: delta,
                mels,
                model: model_kind,
                frames: Some(frames),
                batch_size: batch,
                ..TrainConfig::default()
            };
            let init = Device::flex().autodiff();
            init.seed(0);
            let mut model = fork_drawn(
                AudioModel::new(&cfg, classes, &init).expect("valid model"),
                &train_device,
            );
            let mut optim = AdamConfig::new().init();
            let x = Tensor::<3>::random(
                [batch, frames, mels],
                Distribution::Normal(-5.0, 2.0),
                &train_device,
            );
            let labels: Vec<f32> = (0..batch * classes)
                .map(|i| f32::from(i % classes == (i / classes) % classes))
                .collect();
            let y =
                Tensor::<2>::from_data(TensorData::new(labels, [batch, classes]), &train_device);
            let s = time(&train_device, reps, || {
                let (logits, out) = model.forward(x.clone(), None).expect("forward");
                let head = model.classifier.head();
                let output = OutputKind::new(LossKind::Auto, head, false).expect("single-label");
                let loss = output.loss(logits, y.clone()) + out.guide_loss;
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-3, model.clone(), grads);
            });
            println!(
                "{{\"bench\": \"train\", \"device\": \"{kind}\", \"model\": \"{model_kind}\", \"frontend\": \"{frontend}\", \"reduction\": {delta}, \"frames\": {frames}, \"batch\": {batch}, \"clips_per_s\": {:.3}}}",
                batch as f64 / s
            );
        }
    }
}
