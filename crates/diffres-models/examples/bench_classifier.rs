//! Speed of the classifiers on the CPU (Burn flex): inference forward and one training step.
//!
//! ```text
//! cargo run --release -p diffres-models --example bench_classifier -- \
//!     --model cnn,efficientnet-b0,efficientnet-b2 --batch 32 --channels 3 --frames 250 \
//!     --mels 128 --reps 3 [--json] [--threads N]
//! ```
//!
//! Per model, on a random input `[batch, channels, frames, mels]`:
//! - `forward_s`: one forward pass on the inference device (plain flex: no autodiff, batch norm
//!   on its running statistics, no dropout);
//! - `train_step_s`: forward + backward of `mean(y^2)` on the autodiff device (batch norm in
//!   training mode, dropout / drop-connect on), no optimiser step.
//!
//! Each is the median of `--reps` repetitions after one warm-up, in wall-clock seconds and in
//! the process's CPU seconds (`*_cpu_s`, all threads: steadier on a busy machine). `--json` prints one JSON object
//! per model on its own line (the same keys as `bench/pytorch/bench_torch.py classifier`);
//! otherwise a markdown table. `bench/compare.sh` runs both sides.

#[path = "../../../bench/harness.rs"]
mod harness;
use harness::{cpu_model, has_avx512, measure, set_threads};

use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Parser;
use diffres_models::{trainable_params, ClassifierConfig, ClassifierKind};

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Times the classifiers' forward pass and training step on the CPU")]
struct Args {
    /// Models, comma-separated: cnn, efficientnet-b0, efficientnet-b2.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "cnn,efficientnet-b0,efficientnet-b2"
    )]
    model: Vec<ClassifierKind>,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Input channels (3 for DiffRes features, 1 for the baselines).
    #[arg(long, default_value_t = 3)]
    channels: usize,
    /// Time frames of the input.
    #[arg(long, default_value_t = 250)]
    frames: usize,
    /// Mel bins of the input.
    #[arg(long, default_value_t = 128)]
    mels: usize,
    /// Classes of the output.
    #[arg(long, default_value_t = 10)]
    classes: usize,
    /// Timed repetitions (after one warm-up); the median is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    reps: u32,
    /// Threads of the tensor backend (default: all cores, or RAYON_NUM_THREADS).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// One JSON object per model and line instead of a table.
    #[arg(long)]
    json: bool,
    /// Run the Burn modules' portable path instead of the flex host kernels (to measure what
    /// the kernels gain).
    #[arg(long)]
    portable: bool,
}

/// One model's figures: (wall, CPU) seconds.
struct Measured {
    params: usize,
    forward: (f64, f64),
    train_step: (f64, f64),
}

fn bench(kind: ClassifierKind, args: &Args) -> Result<Measured, diffres_models::ModelError> {
    let shape = [args.batch, args.channels, args.frames, args.mels];
    let config = ClassifierConfig::new(kind, args.channels, args.classes);

    // Inference: no autodiff, so batch norm uses its running statistics and dropout is off.
    let device = Device::flex();
    device.seed(0);
    let model = config.init(&device)?;
    let params = trainable_params(&model);
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let forward = measure(args.reps, &device, || {
        let _ = model.forward(x.clone()).into_data();
    });
    drop((model, x));

    // Training: autodiff, batch norm on batch statistics; backward of mean(y^2).
    let device = Device::flex().autodiff();
    device.seed(0);
    let model = config.init(&device)?;
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let train_step = measure(args.reps, &device, || {
        let loss = model.forward(x.clone()).powi_scalar(2).mean();
        drop(loss.backward());
    });
    Ok(Measured {
        params,
        forward,
        train_step,
    })
}

fn main() {
    let args = Args::parse();
    let threads = set_threads(args.threads);
    // As the `diffres` tool does (glibc keeps freed blocks instead of unmapping them).
    diffres::keep_freed_memory();
    diffres_models::use_host_kernels(!args.portable);
    let (cpu, avx512) = (cpu_model(), has_avx512());
    if !args.json {
        println!(
            "CPU: {cpu} (AVX-512: {}, kernels: {}) | threads: {threads} | input [{}, {}, {}, {}] | median of {} after a warm-up\n",
            if avx512 { "yes" } else { "no" },
            harness::simd_level(),
            args.batch,
            args.channels,
            args.frames,
            args.mels,
            args.reps
        );
        println!("| model | parameters | forward (s) | training step (s) | forward CPU (s) | training step CPU (s) |");
        println!("|---|---:|---:|---:|---:|---:|");
    }
    for &kind in &args.model {
        let m = match bench(kind, &args) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {kind}: {e}");
                std::process::exit(1);
            }
        };
        if args.json {
            let line = serde_json::json!({
                "implementation": if args.portable { "diffres-portable" } else { "diffres" },
                "model": kind.name(),
                "batch": args.batch,
                "channels": args.channels,
                "frames": args.frames,
                "mels": args.mels,
                "params": m.params,
                "forward_s": m.forward.0,
                "train_step_s": m.train_step.0,
                "forward_cpu_s": m.forward.1,
                "train_step_cpu_s": m.train_step.1,
                "reps": args.reps,
                "threads": threads,
                "cpu": cpu,
                "avx512": avx512,
                "simd": harness::simd_level(),
            });
            println!("{line}");
        } else {
            println!(
                "| {kind} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
                m.params, m.forward.0, m.train_step.0, m.forward.1, m.train_step.1
            );
        }
    }
}
