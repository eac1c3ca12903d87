//! Helpers shared by the Rust benchmarks (`bench_layer`, `bench_classifier`, `bench_train`,
//! `bench_filterbanks`, `bench_throughput`, `bench_memory`):
//! what the machine is, process CPU time, medians of timed repetitions, test signals. Each example includes
//! this file with `#[path]`; not every example uses every helper.
#![allow(dead_code)]

use std::time::Instant;

use burn::prelude::*;

/// The first `model name` of `/proc/cpuinfo`.
pub fn cpu_model() -> String {
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

/// Sets the tensor backend's threads (`--threads`; `None` keeps `RAYON_NUM_THREADS` or one per
/// core) and returns how many it will use. Burn flex runs on rayon's global pool, built on
/// first use: call this before any tensor operation.
pub fn set_threads(threads: Option<u32>) -> usize {
    if let Some(n) = threads {
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The instruction set the host kernels and their GEMM use: `avx512`, `avx2` or `baseline`
/// (`avx2` on an AVX-512 machine in a build without the `avx512` feature).
pub fn simd_level() -> &'static str {
    diffres::kernel_support::simd_level()
}

/// Whether the CPU has AVX-512F (the matrix kernels pick it at run time).
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The median (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// CPU seconds this process has used so far, all threads (NaN where unavailable).
pub fn process_cpu_s() -> f64 {
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
pub fn measure(reps: u32, device: &Device, mut f: impl FnMut()) -> (f64, f64) {
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

/// `batch` waveforms of `samples` samples at `sample_rate`: rising chirps (each clip starting
/// 100 Hz above the previous) in a little deterministic noise.
pub fn chirps(batch: usize, samples: usize, sample_rate: f32) -> Vec<Vec<f32>> {
    (0..batch)
        .map(|b| {
            (0..samples)
                .map(|n| {
                    let t = n as f32 / sample_rate;
                    0.3 * (2.0 * std::f32::consts::PI * (300.0 + 100.0 * b as f32 + 2000.0 * t) * t)
                        .sin()
                        + 0.01 * ((n * 7919 % 1000) as f32 / 500.0 - 1.0)
                })
                .collect()
        })
        .collect()
}
