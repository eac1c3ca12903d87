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

use std::time::Instant;

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

/// The first `model name` of `/proc/cpuinfo`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Whether the CPU has AVX-512F (the matrix kernels pick it at run time).
fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// CPU seconds this process has used so far, all threads (NaN where unavailable).
fn process_cpu_s() -> f64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec through a valid, exclusive pointer.
        if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } == 0 {
            return ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9;
        }
    }
    f64::NAN
}

/// Median wall-clock seconds and median process CPU seconds (all threads) of `reps` runs of
/// `f` after one warm-up. CPU time is the steadier figure on a busy machine.
fn measure(reps: u32, device: &Device, mut f: impl FnMut()) -> (f64, f64) {
    f();
    device.sync().expect("device sync");
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let (start, start_cpu) = (Instant::now(), process_cpu_s());
        f();
        device.sync().expect("device sync");
        wall.push(start.elapsed().as_secs_f64());
        cpu.push(process_cpu_s() - start_cpu);
    }
    (median(wall), median(cpu))
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
    if let Some(n) = args.threads {
        // Burn flex runs on rayon's global pool, built on first use: set before any tensor op.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    // As the `diffres` tool does (glibc keeps freed blocks instead of unmapping them).
    diffres::keep_freed_memory();
    diffres_models::use_host_kernels(!args.portable);
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let (cpu, avx512) = (cpu_model(), has_avx512());
    if !args.json {
        println!(
            "CPU: {cpu} (AVX-512: {}) | threads: {threads} | input [{}, {}, {}, {}] | median of {} after a warm-up\n",
            if avx512 { "yes" } else { "no" },
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
