//! Speed and memory of the DiffRes layer and two baselines on the CPU (Burn flex).
//!
//! ```text
//! cargo run --release -p diffres --example bench_layer [-- --quick] [--threads N] [--malloc-defaults]
//! ```
//!
//! Like the `diffres` tool, it calls [`diffres::keep_freed_memory`] first, unless
//! `--malloc-defaults` is given.
//!
//! Prints a markdown table: forward on the inference device (no autodiff), forward + backward
//! on the autodiff device (backward of `feature.sum() + guide_loss`), batch 32, F = 128; the
//! median of a few repetitions after a warm-up, and the peak heap in use during each
//! measurement (a counting global allocator; the input and the model are included). Then the
//! authors' PyTorch figures on the same machine and the speed-up.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
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

fn gb(bytes: usize) -> f64 {
    bytes as f64 / 1e9
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The authors' figures: (T, fwd s (low, high), fwd+bwd s (low, high), peak GB).
type Reference = (usize, (f64, f64), (f64, f64), Option<f64>);

struct Row {
    name: String,
    frames: usize,
    delta: f64,
    fwd: f64,
    fwd_peak: usize,
    train: f64,
    train_peak: usize,
}

/// Median seconds and peak heap bytes of `reps` runs of `f` after one warm-up.
fn measure(reps: usize, device: &Device, mut f: impl FnMut()) -> (f64, usize) {
    f();
    device.sync().expect("device sync");
    let mut times = Vec::with_capacity(reps);
    let mut top = 0;
    for _ in 0..reps {
        reset_peak();
        let start = Instant::now();
        f();
        device.sync().expect("device sync");
        times.push(start.elapsed().as_secs_f64());
        top = top.max(peak());
    }
    (median(times), top)
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
    let (fwd, fwd_peak) = measure(reps, &device, || {
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
    let (train, train_peak) = measure(reps, &device, || {
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
        fwd_peak,
        train,
        train_peak,
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    // As the `diffres` tool does, unless the allocator's defaults are asked for.
    let kept = !args.iter().any(|a| a == "--malloc-defaults") && diffres::keep_freed_memory();
    let threads = args.iter().position(|a| a == "--threads").map(|i| {
        args.get(i + 1)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n >= 1)
            .unwrap_or_else(|| {
                eprintln!("--threads needs a positive integer");
                std::process::exit(2)
            })
    });
    if let Some(n) = threads {
        // Burn flex runs on rayon's global pool, built on first use: set before any tensor op.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    let threads_used = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    let (batch, mels) = if quick { (2, 16) } else { (32, 128) };
    let diffres_cases: Vec<(usize, f64, usize)> = if quick {
        vec![(100, 0.75, 1), (300, 0.9, 1)]
    } else {
        vec![(1000, 0.75, 5), (3000, 0.75, 3), (10000, 0.9, 2)]
    };
    let baseline_frames = if quick { 100 } else { 1000 };
    let baseline_reps = if quick { 1 } else { 5 };

    println!(
        "# DiffRes layer benchmark{}\n\nCPU: {} | threads: {} | batch {batch}, F = {mels} | Burn flex, release | malloc: {}\n",
        if quick { " (quick smoke run)" } else { "" },
        cpu_model(),
        threads_used,
        if kept {
            "freed memory kept (diffres::keep_freed_memory)"
        } else {
            "system defaults"
        }
    );
    let mut rows = Vec::new();
    for &(frames, delta, reps) in &diffres_cases {
        rows.push(bench(
            FrontEndKind::DiffRes,
            batch,
            frames,
            mels,
            delta,
            reps,
        ));
        eprintln!("done: diffres T = {frames}");
    }
    for kind in [FrontEndKind::AvgPool, FrontEndKind::ConvAvgPool] {
        rows.push(bench(
            kind,
            batch,
            baseline_frames,
            mels,
            0.75,
            baseline_reps,
        ));
        eprintln!("done: {kind}");
    }

    println!("| front end | T | delta | t | fwd (s) | fwd peak heap (MB) | fwd+bwd (s) | fwd+bwd peak heap (MB) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let t = diffres::output_frames(r.frames, r.delta).unwrap_or(0);
        println!(
            "| {} | {} | {} | {} | {:.3} | {:.0} | {:.3} | {:.0} |",
            r.name,
            r.frames,
            r.delta,
            t,
            r.fwd,
            mb(r.fwd_peak),
            r.train,
            mb(r.train_peak)
        );
    }

    if !quick {
        // The authors' implementation (PyTorch, dense t x T warp), measured on this machine with
        // 2 threads: (T, fwd s, fwd+bwd s, peak GB), ranges as (low, high).
        let reference: [Reference; 3] = [
            (1000, (0.25, 0.25), (0.38, 0.38), None),
            (3000, (2.4, 2.4), (4.6, 4.6), Some(2.75)),
            (10000, (11.0, 20.0), (21.0, 31.0), Some(9.3)),
        ];
        println!("\n## Against the authors' PyTorch implementation (same machine, 2 threads)\n");
        println!("| T | PyTorch fwd (s) | PyTorch fwd+bwd (s) | PyTorch peak (GB) | speed-up fwd | speed-up fwd+bwd | memory ratio (fwd+bwd) |");
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        let range = |(lo, hi): (f64, f64)| {
            if lo == hi {
                format!("{lo}")
            } else {
                format!("{lo}-{hi}")
            }
        };
        let ratio = |(lo, hi): (f64, f64), ours: f64| {
            if lo == hi {
                format!("{:.1}x", lo / ours)
            } else {
                format!("{:.1}-{:.1}x", lo / ours, hi / ours)
            }
        };
        for (frames, fwd, train, mem) in reference {
            let Some(r) = rows
                .iter()
                .find(|r| r.name == "diffres" && r.frames == frames)
            else {
                continue;
            };
            println!(
                "| {frames} | {} | {} | {} | {} | {} | {} |",
                range(fwd),
                range(train),
                mem.map_or("-".into(), |m| format!("{m}")),
                ratio(fwd, r.fwd),
                ratio(train, r.train),
                mem.map_or("-".into(), |m| format!("{:.1}x less", m / gb(r.train_peak)))
            );
        }
        let by_t = |t: usize| rows.iter().find(|r| r.name == "diffres" && r.frames == t);
        if let (Some(a), Some(b), Some(c)) = (by_t(1000), by_t(3000), by_t(10000)) {
            println!(
                "\nPeak heap per input frame (fwd+bwd): {:.0} / {:.0} / {:.0} kB at T = 1000 / 3000 / 10000 (constant = linear in T).",
                a.train_peak as f64 / 1e3 / 1000.0,
                b.train_peak as f64 / 1e3 / 3000.0,
                c.train_peak as f64 / 1e3 / 10000.0
            );
            println!(
                "Targets: fwd+bwd >= 5x faster at T = 3000 ({:.1}x), >= 10x at T = 10000 ({:.1}x against the 21 s low end).",
                4.6 / b.train,
                21.0 / c.train
            );
        }
    }
    println!(
        "\nProcess peak RSS: {}",
        vm_hwm().replace("VmHWM:", "").trim()
    );
}
