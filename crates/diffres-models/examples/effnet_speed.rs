//! Times one forward and one forward + backward of each classifier on the CPU (flex).
//!
//! `cargo run --release -p diffres-models --example effnet_speed -- [batch] [t] [F] [channels]`

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use diffres_models::{trainable_params, ClassifierConfig, ClassifierKind};

fn main() -> Result<(), diffres_models::ModelError> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let arg = |i: usize, default: usize| args.get(i).copied().unwrap_or(default);
    let (batch, time, freq, channels) = (arg(0, 4), arg(1, 100), arg(2, 64), arg(3, 3));
    let device = Device::flex().autodiff();
    device.seed(0);
    for kind in [
        ClassifierKind::Cnn,
        ClassifierKind::EfficientNetB0,
        ClassifierKind::EfficientNetB2,
    ] {
        let model = ClassifierConfig::new(kind, channels, 10).init(&device)?;
        let x = Tensor::<4>::random(
            [batch, channels, time, freq],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        // Warm-up.
        let _ = model.forward(x.clone()).into_data();
        let start = Instant::now();
        let _ = model.forward(x.clone()).into_data();
        let forward = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let loss = model.forward(x).powi_scalar(2).mean();
        let _grads = loss.backward();
        device.sync().expect("device sync");
        let step = start.elapsed().as_secs_f64();
        println!(
            "{kind:>16}: {:>10} params, [{batch}, {channels}, {time}, {freq}] forward {forward:.3} s, forward+backward {step:.3} s",
            trainable_params(&model)
        );
    }
    Ok(())
}
