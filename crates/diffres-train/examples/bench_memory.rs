//! Peak anonymous memory (RssAnon) of a one-epoch training against the dataset size: does
//! memory grow with the data when features are streamed from the feature cache?
//!
//! ```text
//! cargo run --release -p diffres-train --example bench_memory -- [--json] [--small N] [--large N] [--memory]
//! ```
//!
//! For each size (clips per class of the synthetic dataset, 9 classes: 30 and 600 by default,
//! i.e. 270 and 5,400 clips) the benchmark runs one training (compact CNN, DiffRes at 25%,
//! 1 s clips, 64 mel bins, 1 epoch) in a child process and samples the child's
//! `/proc/PID/status` `RssAnon` every 10 ms; it prints the peak per size and the ratio.
//! `--memory` holds the features in memory instead, for comparison. Linux only.

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
    let started = Instant::now();
    let mut proc = Command::new(std::env::current_exe().expect("own path"))
        .env(CHILD, spec)
        .spawn()
        .expect("start the child");
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
    std::fs::remove_dir_all(&out).ok();
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
                "{{\"case\":\"train_1_epoch\",\"clips\":{clips},\"stream\":{stream},\"peak_rss_anon_mib\":{:.1},\"wall_s\":{seconds:.2}}}",
                peak as f64 / 1024.0
            );
        } else {
            println!(
                "{clips:>6} clips ({}): peak RssAnon {:.1} MiB, {seconds:.1} s",
                if stream { "streamed" } else { "in memory" },
                peak as f64 / 1024.0
            );
        }
    }
    let ratio = peaks[1] as f64 / peaks[0].max(1) as f64;
    if json {
        println!("{{\"case\":\"ratio\",\"stream\":{stream},\"large_over_small\":{ratio:.3}}}");
    } else {
        println!("large / small peak: {ratio:.3}x");
    }
}
