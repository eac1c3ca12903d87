//! The paper's Figure 5: waveform-to-label inference throughput (seconds of audio per second)
//! of Mel, Mel + DiffRes and LEAF at several frame rates, classifier included.
//!
//! ```text
//! cargo run --release --workspace --example bench_throughput -- [--json] [--reps 3]
//!     [--batch 8] [--seconds 1.0] [--model cnn|efficientnet-b0] [--fps 100,50,25,12.5]
//!     [--threads N] [--png docs/figure5-throughput.png] [--with-portable-leaf]
//! ```
//!
//! Every case is one `AudioModel` (128 filters, 10 ms hop, `--model`, 10 classes) in inference
//! mode (built on the autodiff device, then `valid()`, as training evaluates), run on a batch
//! of `--batch` synthetic clips of `--seconds` s at 16 kHz (chirps in a little noise):
//! - `mel`: the host log-mel of `diffres-audio` (timed, clips in parallel), then average
//!   pooling to the frame rate (`Identity` at 100 FPS);
//! - `mel+diffres`: the same log-mel, then DiffRes with `reduction = 1 - fps / 100`;
//! - `leaf`: LEAF from the waveform inside the model (on flex, the filterbanks' fused host
//!   kernels; `--with-portable-leaf` adds LEAF on the portable Burn path), then average pooling
//!   (`Identity` at 100).
//!
//! `--model` also takes `efficientnet-b2`, the paper's classifier for this figure.
//!
//! Throughput is `batch x seconds / median wall time` of `--reps` timed calls after one
//! warm-up (`bench/harness.rs`), softmax and arg-max included (`audio_s_per_cpu_s` divides by
//! the process's CPU seconds instead, steadier on a busy machine). `--json` prints one object per
//! case and line; `--png` draws throughput against FPS, one line per front end (the paper's
//! style, with the project's line chart).

#[path = "../../../bench/harness.rs"]
mod harness;
use harness::{chirps, cpu_model, has_avx512, measure, set_threads};

use burn::module::Module;
use burn::prelude::*;
use clap::Parser;
use diffres::FrontEndKind;
use diffres_audio::{LogMel, LogMelConfig};
use diffres_models::ClassifierKind;
use diffres_train::filterbank::FilterbankKind;
use diffres_train::model::AudioModel;
use diffres_train::TrainConfig;
use rayon::prelude::*;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Figure 5: waveform-to-label throughput of Mel, Mel+DiffRes and LEAF")]
struct Args {
    /// Timed repetitions after a warm-up; the median is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    reps: u32,
    /// Clips per batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Seconds of audio per clip.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Classifier: cnn or efficientnet-b0.
    #[arg(long, default_value = "cnn")]
    model: ClassifierKind,
    /// Frame rates, comma-separated (100 FPS is the 10 ms hop, no reduction).
    #[arg(long, value_delimiter = ',', default_value = "100,50,25,12.5")]
    fps: Vec<f64>,
    /// Threads of the tensor backend and the kernels (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// One JSON object per case and line instead of a table.
    #[arg(long)]
    json: bool,
    /// Writes the figure (throughput against FPS) to this PNG.
    #[arg(long)]
    png: Option<std::path::PathBuf>,
    /// Also measures LEAF on the filterbanks' portable Burn path (host kernels off), to show
    /// what the flex host kernels gain end to end (`"filterbank_path": "portable"`).
    #[arg(long)]
    with_portable_leaf: bool,
}

/// The three pipelines of the figure.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pipeline {
    Mel,
    MelDiffRes,
    Leaf,
    /// LEAF with the filterbanks' host kernels off.
    LeafPortable,
}

impl Pipeline {
    fn name(self) -> &'static str {
        match self {
            Pipeline::Mel => "mel",
            Pipeline::MelDiffRes => "mel+diffres",
            Pipeline::Leaf | Pipeline::LeafPortable => "leaf",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Pipeline::Mel => "Mel",
            Pipeline::MelDiffRes => "Mel+DiffRes",
            Pipeline::Leaf => "LEAF",
            Pipeline::LeafPortable => "LEAF (portable filterbank path)",
        }
    }

    fn is_leaf(self) -> bool {
        matches!(self, Pipeline::Leaf | Pipeline::LeafPortable)
    }

    /// The run's config at `fps` (of 100 at the 10 ms hop).
    fn config(self, fps: f64, model: ClassifierKind) -> TrainConfig {
        let reduction = 1.0 - fps / 100.0;
        let frontend = match self {
            Pipeline::MelDiffRes => FrontEndKind::DiffRes,
            _ if reduction <= 0.0 => FrontEndKind::Identity,
            _ => FrontEndKind::AvgPool,
        };
        TrainConfig {
            filterbank: if self.is_leaf() {
                FilterbankKind::Leaf
            } else {
                FilterbankKind::Mel
            },
            frontend,
            reduction: reduction.max(0.0),
            mels: 128,
            model,
            ..TrainConfig::default()
        }
    }
}

/// Median wall and process CPU seconds (all threads) of one batch, waveform to labels.
fn bench(
    pipeline: Pipeline,
    fps: f64,
    args: &Args,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let cfg = pipeline.config(fps, args.model);
    let base = Device::flex();
    let ad = base.clone().autodiff();
    ad.seed(0);
    let model = AudioModel::new(&cfg, 10, &ad)?.valid();
    let mel_config = LogMelConfig::default();
    let mel = LogMel::new(mel_config.clone())?;
    let samples = (args.seconds * mel_config.sample_rate as f64).round() as usize;
    let waves = chirps(args.batch, samples, mel_config.sample_rate as f32);
    let batch = args.batch;
    let mut failure = None;
    let (wall, cpu_s) = measure(args.reps, &base, || {
        let x = if pipeline.is_leaf() {
            let flat: Vec<f32> = waves.concat();
            Tensor::<3>::from_data(TensorData::new(flat, [batch, samples, 1]), &base)
        } else {
            // The host log-mel, clips in parallel, is part of the timed pipeline.
            let specs: Vec<_> = waves
                .par_iter()
                .map(|w| mel.log_mel(w).expect("valid waveform"))
                .collect();
            let frames = specs[0].frames;
            let flat: Vec<f32> = specs.into_iter().flat_map(|s| s.data).collect();
            Tensor::<3>::from_data(TensorData::new(flat, [batch, frames, 128]), &base)
        };
        match model.forward(x, None) {
            Ok((logits, _)) => {
                let probs = burn::tensor::activation::softmax(logits, 1);
                let _labels = probs.argmax(1).into_data();
            }
            Err(e) => failure = Some(e.to_string()),
        }
    });
    match failure {
        Some(e) => Err(e.into()),
        None => Ok((wall, cpu_s)),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let threads = set_threads(args.threads);
    diffres::keep_freed_memory(); // as the `diffres` tool does
    let (cpu, avx512) = (cpu_model(), has_avx512());
    let model = args.model.name();
    if !args.json {
        println!(
            "CPU: {cpu} (AVX-512: {}, kernels: {}) | threads: {threads} | batch {} x {} s, 128 filters, {model} | median of {} after a warm-up\n",
            if avx512 { "yes" } else { "no" },
            harness::simd_level(),
            args.batch,
            args.seconds,
            args.reps
        );
        println!("| front end | FPS | audio s / s |");
        println!("|---|---:|---:|");
    }
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut pipelines = vec![Pipeline::Mel, Pipeline::MelDiffRes, Pipeline::Leaf];
    if args.with_portable_leaf {
        pipelines.push(Pipeline::LeafPortable);
    }
    for pipeline in pipelines {
        let mut points = Vec::new();
        for &fps in &args.fps {
            diffres_filterbanks::use_host_kernels(pipeline != Pipeline::LeafPortable);
            let (wall, cpu_s) = bench(pipeline, fps, &args)?;
            let audio_s_per_s = args.batch as f64 * args.seconds / wall;
            points.push((fps, audio_s_per_s));
            if args.json {
                let line = serde_json::json!({
                    "frontend": pipeline.name(),
                    "fps": fps,
                    "model": model,
                    "filterbank_path": if pipeline == Pipeline::LeafPortable { "portable" } else { "fast" },
                    "audio_s_per_s": audio_s_per_s,
                    "batch_s": wall,
                    "batch_cpu_s": cpu_s,
                    "audio_s_per_cpu_s": args.batch as f64 * args.seconds / cpu_s,
                    "batch": args.batch,
                    "seconds": args.seconds,
                    "reps": args.reps,
                    "threads": threads,
                    "cpu": cpu,
                    "avx512": avx512,
                    "simd": harness::simd_level(),
                });
                println!("{line}");
            } else {
                println!("| {} | {fps} | {audio_s_per_s:.1} |", pipeline.label());
            }
        }
        series.push((pipeline.label().to_string(), points));
    }
    if let Some(path) = &args.png {
        let title = format!(
            "Throughput ({model}, batch {}, {threads} threads)",
            args.batch
        );
        diffres_report::plot::line_chart(
            path,
            &title,
            "frames per second",
            "seconds of audio per second",
            &series,
        )?;
    }
    Ok(())
}
