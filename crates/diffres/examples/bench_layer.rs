//! Speed and memory of the DiffRes layer and two baselines on the CPU (Burn flex).
//!
//! ```text
//! cargo run --release -p diffres --example bench_layer -- [--json] [--frames T[,T...]]
//!     [--frontend diffres,avgpool,convavgpool] [--delta D] [--reps N] [--threads N]
//!     [--quick] [--malloc-defaults]
//! ```
//!
//! Like the `diffres` tool, it calls [`diffres::keep_freed_memory`] first, unless
//! `--malloc-defaults` is given.
//!
//! Per case: forward on the inference device (no autodiff), forward + backward on the autodiff
//! device (backward of `feature.sum() + guide_loss`), batch 32, F = 128; the median of a few
//! repetitions after a warm-up (wall-clock and process CPU seconds), and the peak heap in use
//! during each measurement (a counting global allocator; the input and the model are included).
//! By default DiffRes at T = 1,000, 3,000 (δ = 0.75) and 10,000 (δ = 0.9) and the baselines at
//! T = 1,000; `--frames` runs every `--frontend` at the given T. Prints a markdown table, or
//! with `--json` one JSON object per case and line (keys as `bench/pytorch/bench_torch.py
//! layer`, which times the authors' PyTorch layer; `bench/compare.sh` runs both).

#[path = "../../../bench/harness.rs"]
mod harness;
use harness::{cpu_model, has_avx512, median, process_cpu_s, set_threads};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Parser;
use diffres::{FrontEnd, FrontEndConfig, FrontEndKind};

/// `System`, counting the bytes in use and their peak.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grow(new_size - layout.size());
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn reset_peak() {
    PEAK.store(CURRENT.load(Ordering::Relaxed), Ordering::Relaxed);
}

fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

struct Row {
    name: String,
    frames: usize,
    delta: f64,
    fwd: Measured,
    train: Measured,
}

/// Median wall-clock and CPU seconds and the peak heap of a few runs.
struct Measured {
    wall_s: f64,
    cpu_s: f64,
    peak: usize,
}

/// Median wall-clock seconds, median process CPU seconds (all threads: steadier on a busy
/// machine) and peak heap bytes of `reps` runs of `f` after one warm-up.
fn measure(reps: usize, device: &Device, mut f: impl FnMut()) -> Measured {
    f();
    device.sync().expect("device sync");
    let (mut wall, mut cpu) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
    let mut top = 0;
    for _ in 0..reps {
        reset_peak();
        let (start, start_cpu) = (Instant::now(), process_cpu_s());
        f();
        device.sync().expect("device sync");
        wall.push(start.elapsed().as_secs_f64());
        cpu.push(process_cpu_s() - start_cpu);
        top = top.max(peak());
    }
    Measured {
        wall_s: median(wall),
        cpu_s: median(cpu),
        peak: top,
    }
}

fn bench(
    kind: FrontEndKind,
    batch: usize,
    frames: usize,
    mels: usize,
    delta: f64,
    reps: usize,
) -> Row {
    let config = FrontEndConfig::new(kind, mels).with_delta(delta);

    // Inference: no autodiff, batch norm on running statistics.
    let device = Device::flex();
    device.seed(0);
    let layer: FrontEnd = config.init(&device).expect("valid configuration");
    let x = Tensor::<3>::random(
        [batch, frames, mels],
        Distribution::Normal(-5.0, 2.0),
        &device,
    );
    device.sync().expect("device sync");
    let fwd = measure(reps, &device, || {
        let out = layer.forward(x.clone(), None).expect("forward");
        let _ = out.feature.into_data();
    });
    drop((layer, x));

    // Training: autodiff, backward of feature.sum() + guide loss.
    let device = Device::flex().autodiff();
    device.seed(0);
    let layer: FrontEnd = config.init(&device).expect("valid configuration");
    let x = Tensor::<3>::random(
        [batch, frames, mels],
        Distribution::Normal(-5.0, 2.0),
        &device,
    );
    // A front end without parameters (AvgPool) needs a tracked input to have a backward pass.
    let x = if diffres::trainable_params(&layer) == 0 {
        x.require_grad()
    } else {
        x
    };
    device.sync().expect("device sync");
    let train = measure(reps, &device, || {
        let out = layer.forward(x.clone(), None).expect("forward");
        let loss = out.feature.sum() + out.guide_loss;
        let grads = loss.backward();
        drop(grads);
    });

    Row {
        name: kind.name().to_string(),
        frames,
        delta,
        fwd,
        train,
    }
}

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.to_string())
        })
        .unwrap_or_else(|| "VmHWM: unavailable".into())
}

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Times the DiffRes layer and two baselines on the CPU")]
struct Args {
    /// Input frames T, comma-separated: every --frontend at each (default: DiffRes at
    /// 1000, 3000, 10000 and the baselines at 1000).
    #[arg(long, value_delimiter = ',')]
    frames: Vec<usize>,
    /// Front ends, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "diffres,avgpool,convavgpool"
    )]
    frontend: Vec<FrontEndKind>,
    /// Reduction rate δ (default 0.9 at T >= 10000, else 0.75).
    #[arg(long)]
    delta: Option<f64>,
    /// Timed repetitions after a warm-up (default 5 at T <= 1000, 3 up to 3000, then 2).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    reps: Option<u32>,
    /// Threads of the tensor backend and the kernels (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// A tiny smoke run (batch 2, F = 16, T = 100 and 300).
    #[arg(long)]
    quick: bool,
    /// Keep glibc's allocator defaults instead of diffres::keep_freed_memory().
    #[arg(long)]
    malloc_defaults: bool,
    /// One JSON object per case and line instead of a table.
    #[arg(long)]
    json: bool,
}

/// The default δ of a case: 0.9 from T = 10,000 (the paper's long-input setting), else 0.75.
fn default_delta(frames: usize) -> f64 {
    if frames >= 10_000 {
        0.9
    } else {
        0.75
    }
}

fn main() {
    let args = Args::parse();
    // As the `diffres` tool does, unless the allocator's defaults are asked for.
    let kept = !args.malloc_defaults && diffres::keep_freed_memory();
    let threads_used = set_threads(args.threads);
    let (cpu, avx512) = (cpu_model(), has_avx512());

    let (batch, mels) = if args.quick { (2, 16) } else { (32, 128) };
    let default_reps = |frames: usize| match frames {
        _ if args.quick => 1,
        0..=1000 => 5,
        1001..=3000 => 3,
        _ => 2,
    };
    // (front end, T) pairs.
    let cases: Vec<(FrontEndKind, usize)> = if !args.frames.is_empty() {
        args.frontend
            .iter()
            .flat_map(|&k| args.frames.iter().map(move |&t| (k, t)))
            .collect()
    } else {
        let (long, short): (&[usize], usize) = if args.quick {
            (&[100, 300], 100)
        } else {
            (&[1000, 3000, 10000], 1000)
        };
        args.frontend
            .iter()
            .flat_map(|&k| {
                let frames: Vec<usize> = if k == FrontEndKind::DiffRes {
                    long.to_vec()
                } else {
                    vec![short]
                };
                frames.into_iter().map(move |t| (k, t))
            })
            .collect()
    };

    if !args.json {
        println!(
            "# DiffRes layer benchmark{}\n\nCPU: {cpu} (AVX-512: {}, kernels: {}) | threads: {threads_used} | batch {batch}, F = {mels} | Burn flex, release | malloc: {}\n",
            if args.quick { " (quick smoke run)" } else { "" },
            if avx512 { "yes" } else { "no" },
            harness::simd_level(),
            if kept {
                "freed memory kept (diffres::keep_freed_memory)"
            } else {
                "system defaults"
            }
        );
        println!("| front end | T | delta | t | fwd (s) | fwd peak heap (MB) | fwd+bwd (s) | fwd+bwd peak heap (MB) | fwd / fwd+bwd CPU (s) |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    }
    let mut rows = Vec::new();
    for (kind, frames) in cases {
        let delta = args.delta.unwrap_or_else(|| default_delta(frames));
        let reps = args
            .reps
            .map_or_else(|| default_reps(frames), |r| r as usize);
        let r = bench(kind, batch, frames, mels, delta, reps);
        let t = diffres::output_frames(r.frames, r.delta).unwrap_or(0);
        if args.json {
            let line = serde_json::json!({
                "implementation": "diffres",
                "frontend": r.name,
                "T": r.frames,
                "delta": r.delta,
                "t": t,
                "batch": batch,
                "mels": mels,
                "forward_s": r.fwd.wall_s,
                "train_step_s": r.train.wall_s,
                "forward_cpu_s": r.fwd.cpu_s,
                "train_step_cpu_s": r.train.cpu_s,
                "peak_heap_mb": mb(r.train.peak),
                "forward_peak_heap_mb": mb(r.fwd.peak),
                "reps": reps,
                "threads": threads_used,
                "cpu": cpu,
                "avx512": avx512,
                "simd": harness::simd_level(),
                "malloc": if kept { "kept" } else { "defaults" },
            });
            println!("{line}");
        } else {
            println!(
                "| {} | {} | {} | {t} | {:.3} | {:.0} | {:.3} | {:.0} | {:.3} / {:.3} |",
                r.name,
                r.frames,
                r.delta,
                r.fwd.wall_s,
                mb(r.fwd.peak),
                r.train.wall_s,
                mb(r.train.peak),
                r.fwd.cpu_s,
                r.train.cpu_s
            );
        }
        rows.push(r);
    }

    if !args.json {
        let per_frame: Vec<String> = rows
            .iter()
            .filter(|r| r.name == "diffres")
            .map(|r| {
                format!(
                    "{:.0} kB at T = {}",
                    r.train.peak as f64 / 1e3 / r.frames as f64,
                    r.frames
                )
            })
            .collect();
        if per_frame.len() > 1 {
            println!(
                "\nDiffRes peak heap per input frame (fwd+bwd): {} (constant = linear in T).",
                per_frame.join(", ")
            );
        }
        println!(
            "\nProcess peak RSS: {}",
            vm_hwm().replace("VmHWM:", "").trim()
        );
        println!("The authors' PyTorch layer on this machine: bench/compare.sh layer (or bench/pytorch/bench_torch.py layer).");
    }
}
