//! Peak anonymous memory (RssAnon) of a one-epoch training against the dataset size: does
//! memory grow with the data when features are streamed from the feature cache?
//!
//! ```text
//! cargo run --release -p diffres-train --example bench_memory -- [--json] [--small N] [--large N]
//!     [--memory] [--torch PYTHON]
//! ```
//!
//! For each size (clips per class of the synthetic dataset, 9 classes: 30 and 600 by default,
//! i.e. 270 and 5,400 clips) the benchmark runs one training (compact CNN, DiffRes at 25%,
//! 1 s clips, 64 mel bins, 1 epoch) in a child process and samples the child's
//! `/proc/PID/status` `RssAnon` every 10 ms; it prints the peak per size and the ratio.
//! `--memory` holds the features in memory instead, for comparison. Linux only.
//!
//! `--torch PYTHON` (the interpreter of `bench/pytorch/setup_venv.sh`'s environment; the
//! authors' layer from `DIFFRES_PYTHON`, a checkout of haoheliu/diffres-python) also runs the
//! same training in PyTorch on the same clips (`bench/pytorch/bench_torch.py run`: pydiffres +
//! the compact CNN, features in memory, batch 32, Adam, then the validation split), sampled
//! the same way, and prints the ratio of the peaks per size: the issue's target is diffres at
//! most 1.5x PyTorch's.

#[path = "../../../bench/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use diffres::FrontEndKind;
use diffres_data::synth::{write_dataset, SynthConfig};
use diffres_train::{train, TrainConfig, TrainOptions};

const CHILD: &str = "DIFFRES_BENCH_MEMORY_CHILD";

fn config(manifest: &Path, stream: bool) -> TrainConfig {
    TrainConfig {
        data: manifest.to_path_buf(),
        format: diffres_data::Format::Csv,
        frontend: FrontEndKind::DiffRes,
        reduction: 0.75,
        mels: 64,
        frames: Some(100),
        epochs: 1,
        batch_size: 32,
        stream,
        ..TrainConfig::default()
    }
}

/// The child: one training, as configured by the environment.
fn child(spec: &str) {
    let mut parts = spec.split('|');
    let manifest = PathBuf::from(parts.next().expect("manifest"));
    let out = PathBuf::from(parts.next().expect("out"));
    let cache = PathBuf::from(parts.next().expect("cache"));
    let stream = parts.next() == Some("stream");
    diffres::keep_freed_memory();
    let opts = TrainOptions {
        cache_dir: Some(cache),
        ..TrainOptions::new(out)
    };
    train(&config(&manifest, stream), &opts).expect("training");
}

fn rss_anon_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Peak RssAnon (KiB) and wall time of one training in a child process.
fn measure(manifest: &Path, work: &Path, stream: bool) -> (u64, f64) {
    let out = work.join(format!("run-{}", std::process::id()));
    std::fs::remove_dir_all(&out).ok();
    let spec = format!(
        "{}|{}|{}|{}",
        manifest.display(),
        out.display(),
        work.join("cache").display(),
        if stream { "stream" } else { "memory" }
    );
    let mut child = Command::new(std::env::current_exe().expect("own path"));
    child.env(CHILD, spec);
    let measured = sample_peak(child);
    std::fs::remove_dir_all(&out).ok();
    measured
}

/// `bench_torch.py run` on the same clips with the same settings as [`config`], in this
/// process's child (so it is sampled like the Rust side).
fn measure_torch(python: &Path, manifest: &Path, threads: usize) -> (u64, f64) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/pytorch/bench_torch.py");
    let c = config(manifest, false);
    let mut child = Command::new(python);
    child
        .arg(script)
        .arg("run")
        .arg("--in-process")
        .arg("--manifest")
        .arg(manifest)
        .args(["--threads", &threads.to_string()])
        .args(["--model", "cnn", "--frontend", "diffres"])
        .args(["--reduction", &c.reduction.to_string()])
        .args(["--frames", &c.frames.expect("set").to_string()])
        .args(["--mels", &c.mels.to_string()])
        .args(["--epochs", &c.epochs.to_string()])
        .args(["--batch", &c.batch_size.to_string()])
        .stdout(std::process::Stdio::null());
    sample_peak(child)
}

/// Starts `child`, samples its RssAnon every 10 ms until it exits; its peak (KiB) and wall
/// time.
fn sample_peak(mut child: Command) -> (u64, f64) {
    let started = Instant::now();
    let mut proc = child.spawn().expect("start the child");
    let mut peak = 0;
    loop {
        if let Some(kib) = rss_anon_kib(proc.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = proc.try_wait().expect("child status") {
            assert!(status.success(), "the training failed");
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (peak, started.elapsed().as_secs_f64())
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        child(&spec);
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let stream = !args.iter().any(|a| a == "--memory");
    let sizes = [arg(&args, "--small", 30), arg(&args, "--large", 600)];
    let torch = args
        .iter()
        .position(|a| a == "--torch")
        .map(|i| PathBuf::from(args.get(i + 1).expect("--torch PYTHON")));
    // The Rust child's thread count (one per core, or RAYON_NUM_THREADS), given to the
    // PyTorch side too; with the machine, a field of every measured line.
    let threads = harness::set_threads(None);
    let host = format!(
        "\"cpu\":{:?},\"avx512\":{},\"threads\":{threads}",
        harness::cpu_model(),
        harness::has_avx512(),
    );
    let work = std::env::temp_dir().join("diffres-bench-memory");
    let mut peaks = Vec::new();
    for per_class in sizes {
        let data = work.join(format!("data-{per_class}"));
        let manifest = match data.join("manifest.csv") {
            m if m.is_file() => m,
            _ => write_dataset(
                &data,
                &SynthConfig {
                    clips_per_class: per_class,
                    ..SynthConfig::default()
                },
            )
            .expect("synthetic data"),
        };
        // The first run extracts the features into the cache; the measured one trains.
        measure(&manifest, &work, stream);
        let (peak, seconds) = measure(&manifest, &work, stream);
        let clips = per_class * diffres_data::synth::class_names().len();
        peaks.push(peak);
        if json {
            println!(
                "{{\"case\":\"train_1_epoch\",\"implementation\":\"diffres\",\"clips\":{clips},\"stream\":{stream},\"peak_rss_anon_mib\":{:.1},\"wall_s\":{seconds:.2},{host}}}",
                peak as f64 / 1024.0
            );
        } else {
            println!(
                "{clips:>6} clips ({}): peak RssAnon {:.1} MiB, {seconds:.1} s",
                if stream { "streamed" } else { "in memory" },
                peak as f64 / 1024.0
            );
        }
        if let Some(python) = &torch {
            let (torch_peak, torch_seconds) = measure_torch(python, &manifest, threads);
            let ratio = peak as f64 / torch_peak.max(1) as f64;
            if json {
                println!(
                    "{{\"case\":\"train_1_epoch\",\"implementation\":\"pytorch\",\"clips\":{clips},\"stream\":false,\"peak_rss_anon_mib\":{:.1},\"wall_s\":{torch_seconds:.2},{host}}}",
                    torch_peak as f64 / 1024.0
                );
                println!(
                    "{{\"case\":\"diffres_over_pytorch\",\"clips\":{clips},\"stream\":{stream},\"peak_ratio\":{ratio:.3}}}"
                );
            } else {
                println!(
                    "{clips:>6} clips (PyTorch, in memory): peak RssAnon {:.1} MiB, {torch_seconds:.1} s; diffres / PyTorch {ratio:.3}x",
                    torch_peak as f64 / 1024.0
                );
            }
        }
    }
    let ratio = peaks[1] as f64 / peaks[0].max(1) as f64;
    if json {
        println!("{{\"case\":\"ratio\",\"stream\":{stream},\"large_over_small\":{ratio:.3}}}");
    } else {
        println!("large / small peak: {ratio:.3}x");
    }
}
