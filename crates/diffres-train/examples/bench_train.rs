//! Training and inference throughput of the compact CNN with different front ends.
//!
//! ```text
//! cargo run --release -p diffres-train --example bench_train [-- --quick]
//! ```
//! Training: clips per second of forward + backward + Adam on batches of 32 log-mel clips
//! (1 s at a 10 ms hop: 100 frames, 128 mel bins). Inference: seconds of audio per second,
//! waveform to label (log-mel, front end, classifier, softmax), batch 32, like the paper's
//! Figure 5.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use diffres::FrontEndKind;
use diffres_audio::{LogMel, LogMelConfig};
use diffres_train::model::AudioModel;
use diffres_train::TrainConfig;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    diffres::keep_freed_memory(); // as the `diffres` tool does
    let quick = std::env::args().any(|a| a == "--quick");
    let (batch, frames, mels, classes) = (32usize, 100usize, 128usize, 10usize);
    let reps = if quick { 1 } else { 5 };
    let base = Device::flex();
    let train_device = base.clone().autodiff();
    train_device.seed(0);
    let mel = LogMel::new(LogMelConfig::default()).unwrap();
    // 32 one-second waveforms (chirps in noise).
    let waves: Vec<Vec<f32>> = (0..batch)
        .map(|b| {
            (0..16_000)
                .map(|n| {
                    let t = n as f32 / 16_000.0;
                    0.3 * (2.0 * std::f32::consts::PI * (300.0 + 100.0 * b as f32 + 2000.0 * t) * t)
                        .sin()
                        + 0.01 * ((n * 7919 % 1000) as f32 / 500.0 - 1.0)
                })
                .collect()
        })
        .collect();

    let mut cases = vec![(FrontEndKind::Identity, 0.0)];
    for keep in [0.25, 0.5, 0.75] {
        for kind in [FrontEndKind::AvgPool, FrontEndKind::DiffRes] {
            cases.push((kind, 1.0 - keep));
        }
    }
    println!("| front end | frames kept | train clips/s | inference (s audio / s) |");
    println!("|---|---:|---:|---:|");
    for (kind, reduction) in cases {
        let cfg = TrainConfig {
            frontend: kind,
            reduction,
            mels,
            ..TrainConfig::default()
        };
        let mut model = AudioModel::new(&cfg, classes, &train_device).unwrap();
        let mut optim = AdamConfig::new().init();
        let x: Vec<f32> = (0..batch * frames * mels)
            .map(|i| ((i * 31 % 97) as f32 / 10.0) - 12.0)
            .collect();
        let targets: Vec<f32> = (0..batch * classes)
            .map(|i| {
                if i % classes == (i / classes) % classes {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let mut train_times = Vec::new();
        for rep in 0..=reps {
            let started = Instant::now();
            let xt = Tensor::<3>::from_data(
                TensorData::new(x.clone(), [batch, frames, mels]),
                &train_device,
            );
            let yt = Tensor::<2>::from_data(
                TensorData::new(targets.clone(), [batch, classes]),
                &train_device,
            );
            let (logits, out) = model.forward(xt, None).unwrap();
            let loss = diffres_train::loss::cross_entropy(logits, yt) + out.guide_loss;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-3, model, grads);
            train_device.sync().unwrap();
            if rep > 0 {
                train_times.push(started.elapsed().as_secs_f64());
            }
        }
        let valid = model.valid();
        let mut infer_times = Vec::new();
        for rep in 0..=reps {
            let started = Instant::now();
            let mut features = Vec::with_capacity(batch * frames * mels);
            for w in &waves {
                let spec = mel.log_mel(w).unwrap();
                let (spec, _) = spec.fit_frames(frames, LogMelConfig::default().silence_value());
                features.extend_from_slice(&spec.data);
            }
            let xt =
                Tensor::<3>::from_data(TensorData::new(features, [batch, frames, mels]), &base);
            let (logits, _) = valid.forward(xt, None).unwrap();
            let probs = burn::tensor::activation::softmax(logits, 1);
            let _labels = probs.argmax(1).into_data();
            if rep > 0 {
                infer_times.push(started.elapsed().as_secs_f64());
            }
        }
        let train = batch as f64 / median(train_times);
        let infer = batch as f64 / median(infer_times);
        let kept = if kind == FrontEndKind::Identity {
            1.0
        } else {
            1.0 - reduction
        };
        println!(
            "| {} | {:.0}% | {:.1} | {:.0} |",
            kind,
            kept * 100.0,
            train,
            infer
        );
    }
}
