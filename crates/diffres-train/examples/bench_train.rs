//! Training and inference throughput of a front end + classifier, end to end.
//!
//! ```text
//! cargo run --release -p diffres-train --example bench_train -- [--json] [--quick]
//!     [--models cnn,efficientnet-b0,efficientnet-b2] [--frontends identity,avgpool,diffres]
//!     [--reductions 0.75,0.5,0.25] [--frames T] [--batch N] [--reps N] [--threads N]
//! ```
//! Training: clips per second of forward + backward + Adam on batches of 32 log-mel clips
//! (by default 1 s at a 10 ms hop: 100 frames, 128 mel bins; cross-entropy + guide loss).
//! Inference: seconds of audio per second, waveform to label (log-mel with the clips in
//! parallel, front end, classifier, softmax), batch 32, like the paper's Figure 5. Times are
//! medians after one warm-up.
//!
//! The default run is the compact CNN with each front end (a minute or two); the paper's
//! setting is `--models efficientnet-b0,efficientnet-b2 --frontends diffres --reductions 0.75
//! --frames 1000` (slow on a CPU: a B2 step takes tens of seconds). `--json` prints one JSON
//! object per case and line, with the keys of `bench/pytorch/bench_torch.py train` (the same
//! pipeline in PyTorch: pydiffres + efficientnet_pytorch); `bench/compare.sh` runs both.

#[path = "../../../bench/harness.rs"]
mod harness;
use harness::{chirps, cpu_model, has_avx512, measure, set_threads};

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use clap::Parser;
use diffres::FrontEndKind;
use diffres_audio::{LogMel, LogMelConfig};
use diffres_models::ClassifierKind;
use diffres_train::model::AudioModel;
use diffres_train::TrainConfig;
use rayon::prelude::*;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Times training and inference of front end + classifier on the CPU")]
struct Args {
    /// Classifiers, comma-separated: cnn, efficientnet-b0, efficientnet-b2.
    #[arg(long, value_delimiter = ',', default_value = "cnn")]
    models: Vec<ClassifierKind>,
    /// Front ends, comma-separated (identity is measured once, at 100% of the frames).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "identity,avgpool,diffres"
    )]
    frontends: Vec<FrontEndKind>,
    /// Reduction rates δ (fractions of frames removed), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.75,0.5,0.25")]
    reductions: Vec<f64>,
    /// Input frames per clip (100 = 1 s at the 10 ms hop).
    #[arg(long, default_value_t = 100)]
    frames: usize,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Timed repetitions after a warm-up (default 5, 1 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    reps: Option<u32>,
    /// Threads of the tensor backend and the kernels (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// One repetition of each case.
    #[arg(long)]
    quick: bool,
    /// Keep glibc's allocator defaults instead of diffres::keep_freed_memory().
    #[arg(long)]
    malloc_defaults: bool,
    /// One JSON object per case and line instead of a table.
    #[arg(long)]
    json: bool,
}

/// The process's peak resident memory so far (`VmHWM`), in MB; with one case per process
/// (as `bench/compare.sh` runs it) that case's peak.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e6)
}

/// One measured case.
struct Case {
    frontend: FrontEndKind,
    model: ClassifierKind,
    reduction: f64,
    train: (f64, f64),
    infer: (f64, f64),
}

fn bench(
    args: &Args,
    reps: u32,
    frontend: FrontEndKind,
    model_kind: ClassifierKind,
    reduction: f64,
) -> Result<Case, Box<dyn std::error::Error>> {
    let (batch, frames, classes) = (args.batch, args.frames, 10usize);
    let mel_config = LogMelConfig::default();
    let mels = mel_config.n_mels;
    let base = Device::flex();
    let train_device = base.clone().autodiff();
    train_device.seed(0);
    let cfg = TrainConfig {
        frontend,
        reduction,
        mels,
        model: model_kind,
        ..TrainConfig::default()
    };
    let mut model = Some(AudioModel::new(&cfg, classes, &train_device)?);
    let mut optim = AdamConfig::new().init();
    // Log-mel-like values and one-hot targets (the same formulas as the PyTorch side).
    let x: Vec<f32> = (0..batch * frames * mels)
        .map(|i| ((i * 31 % 97) as f32 / 10.0) - 12.0)
        .collect();
    let targets: Vec<f32> = (0..batch * classes)
        .map(|i| f32::from(i % classes == (i / classes) % classes))
        .collect();
    let train = measure(reps, &train_device, || {
        let m = model.take().expect("the model is put back after each step");
        let xt = Tensor::<3>::from_data(
            TensorData::new(x.clone(), [batch, frames, mels]),
            &train_device,
        );
        let yt = Tensor::<2>::from_data(
            TensorData::new(targets.clone(), [batch, classes]),
            &train_device,
        );
        let (logits, out) = m.forward(xt, None).expect("valid input");
        let loss = diffres_train::loss::cross_entropy(logits, yt) + out.guide_loss;
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        model = Some(optim.step(1e-3, m, grads));
    });

    let valid = model.expect("trained model").valid();
    let mel = LogMel::new(mel_config.clone())?;
    let waves = chirps(
        batch,
        frames * mel_config.hop_length,
        mel_config.sample_rate as f32,
    );
    let infer = measure(reps, &base, || {
        // The host log-mel, clips in parallel (as the tool extracts features and as
        // bench_throughput times it), is part of the timed pipeline.
        let specs: Vec<_> = waves
            .par_iter()
            .map(|w| {
                let spec = mel.log_mel(w).expect("valid waveform");
                spec.into_fitted(frames, mel_config.silence_value()).0
            })
            .collect();
        let features: Vec<f32> = specs.into_iter().flat_map(|s| s.data).collect();
        let xt = Tensor::<3>::from_data(TensorData::new(features, [batch, frames, mels]), &base);
        let (logits, _) = valid.forward(xt, None).expect("valid input");
        let probs = burn::tensor::activation::softmax(logits, 1);
        let _labels = probs.argmax(1).into_data();
    });
    Ok(Case {
        frontend,
        model: model_kind,
        reduction,
        train,
        infer,
    })
}

fn main() {
    let args = Args::parse();
    let threads = set_threads(args.threads);
    // As the `diffres` tool does, unless the allocator's defaults are asked for.
    let kept = !args.malloc_defaults && diffres::keep_freed_memory();
    let (cpu, avx512) = (cpu_model(), has_avx512());
    let reps = args.reps.unwrap_or(if args.quick { 1 } else { 5 });
    let mel_config = LogMelConfig::default();
    let clip_s = (args.frames * mel_config.hop_length) as f64 / mel_config.sample_rate as f64;

    // Identity first (once per model), then each reduction with each other front end.
    let mut cases = Vec::new();
    for &model in &args.models {
        if args.frontends.contains(&FrontEndKind::Identity) {
            cases.push((FrontEndKind::Identity, model, 0.0));
        }
        for &reduction in &args.reductions {
            for &kind in args
                .frontends
                .iter()
                .filter(|&&k| k != FrontEndKind::Identity)
            {
                cases.push((kind, model, reduction));
            }
        }
    }
    if !args.json {
        println!(
            "CPU: {cpu} (AVX-512: {}, kernels: {}) | threads: {threads} | batch {}, {} frames ({clip_s} s), {} mels | median of {reps} after a warm-up\n",
            if avx512 { "yes" } else { "no" },
            harness::simd_level(),
            args.batch,
            args.frames,
            mel_config.n_mels
        );
        println!("| front end | model | frames kept | train clips/s | inference (s audio / s) |");
        println!("|---|---|---:|---:|---:|");
    }
    for (kind, model, reduction) in cases {
        let c = match bench(&args, reps, kind, model, reduction) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {kind} + {model}: {e}");
                std::process::exit(1);
            }
        };
        let train_clips_per_s = args.batch as f64 / c.train.0;
        let infer_audio_s_per_s = args.batch as f64 * clip_s / c.infer.0;
        if args.json {
            let line = serde_json::json!({
                "implementation": "diffres",
                "frontend": c.frontend.name(),
                "model": c.model.name(),
                "reduction": c.reduction,
                "T": args.frames,
                "batch": args.batch,
                "mels": mel_config.n_mels,
                "train_step_s": c.train.0,
                "train_clips_per_s": train_clips_per_s,
                "infer_audio_s_per_s": infer_audio_s_per_s,
                "train_step_cpu_s": c.train.1,
                "infer_cpu_s": c.infer.1,
                "process_peak_rss_mb": peak_rss_mb(),
                "malloc": if kept { "kept" } else { "defaults" },
                "reps": reps,
                "threads": threads,
                "cpu": cpu,
                "avx512": avx512,
                "simd": harness::simd_level(),
            });
            println!("{line}");
        } else {
            println!(
                "| {} | {} | {:.0}% | {train_clips_per_s:.1} | {infer_audio_s_per_s:.0} |",
                c.frontend,
                c.model,
                (1.0 - c.reduction) * 100.0
            );
        }
    }
}
