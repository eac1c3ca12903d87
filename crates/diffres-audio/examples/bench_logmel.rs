//! Log-mel throughput benchmark: seconds of audio per second of wall time ("x real time").
//!
//! ```text
//! cargo run --release -p diffres-audio --example bench_logmel [-- DATA_DIR [SECONDS]]
//! ```
//!
//! Loads FSDD clips (8 kHz FLAC) from `DATA_DIR` (default `../shared/data/fsdd`), resampled to
//! 16 kHz, until `SECONDS` (default 60) of audio are collected, then times `LogMel::log_mel` per
//! clip at hop 10 ms and 1 ms (128 mels) on 1 and 2 rayon threads, plus a plain
//! single-threaded baseline (rustfft complex FFT + dense mel matrix product). Each figure is
//! the best of several repetitions.

use std::path::PathBuf;
use std::time::Instant;

use diffres_audio::{load_audio, LogMel, LogMelConfig};
use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

/// CPU time (user + system) of the whole process in seconds, from `/proc/self/stat`
/// (10 ms resolution); `None` where unavailable.
fn cpu_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Best wall time of `f` over repeated runs (after a warm-up run), until at least
/// `min_total_s` of wall time and 3 runs, and the CPU time per run averaged over all runs.
fn best_of<F: FnMut()>(mut f: F, min_total_s: f64) -> (f64, Option<f64>) {
    f();
    let mut best = f64::INFINITY;
    let mut total = 0.0;
    let mut runs = 0;
    let c0 = cpu_time();
    while runs < 3 || total < min_total_s {
        let t = Instant::now();
        f();
        let dt = t.elapsed().as_secs_f64();
        best = best.min(dt);
        total += dt;
        runs += 1;
    }
    let cpu = match (c0, cpu_time()) {
        (Some(a), Some(b)) => Some((b - a) / runs as f64),
        _ => None,
    };
    (best, cpu)
}

/// Plain baseline: complex FFT (rustfft) of the windowed frame and a dense mel matrix product.
fn baseline(lm: &LogMel, clips: &[Vec<f32>]) -> f64 {
    let cfg = lm.config();
    let n_fft = cfg.n_fft;
    let n_bins = n_fft / 2 + 1;
    let window = lm.window_padded();
    let fb = lm.filterbank_dense();
    let fft = FftPlanner::<f64>::new().plan_fft_forward(n_fft);
    let mut acc = 0.0;
    for clip in clips {
        let n = clip.len();
        let pad = n_fft / 2;
        // reflect pad (clips are longer than pad here)
        let mut padded = Vec::with_capacity(n + 2 * pad);
        padded.extend((1..=pad).rev().map(|i| clip[i.min(n - 1)] as f64));
        padded.extend(clip.iter().map(|&s| s as f64));
        padded.extend((0..pad).map(|i| clip[n.saturating_sub(2 + i)] as f64));
        let frames = 1 + n / cfg.hop_length;
        let mut buf = vec![Complex::new(0.0, 0.0); n_fft];
        let mut pow = vec![0.0; n_bins];
        let mut out = vec![0.0f32; frames * cfg.n_mels];
        for t in 0..frames {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = Complex::new(padded[t * cfg.hop_length + i] * window[i], 0.0);
            }
            fft.process(&mut buf);
            for (p, z) in pow.iter_mut().zip(&buf[..n_bins]) {
                *p = z.norm_sqr();
            }
            for (m, row) in fb.iter().enumerate() {
                let s: f64 = row.iter().zip(&pow).map(|(a, b)| a * b).sum();
                out[t * cfg.n_mels + m] = (s + 1e-6).ln() as f32;
            }
        }
        acc += out[0] as f64;
    }
    acc
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/fsdd"
        ))
    });
    let want_s: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60.0);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "flac" || e == "wav"))
        .collect();
    files.sort();
    let sr = 16_000u32;
    let mut clips = Vec::new();
    let mut total = 0usize;
    for f in &files {
        if total as f64 / sr as f64 >= want_s {
            break;
        }
        let s = load_audio(f, sr).expect("decode");
        total += s.len();
        clips.push(s);
    }
    let audio_s = total as f64 / sr as f64;
    println!(
        "audio: {} clips, {:.1} s at 16 kHz from {}",
        clips.len(),
        audio_s,
        dir.display()
    );
    println!(
        "threads available: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let joined: Vec<f32> = clips.concat();
    println!();
    println!("x real time = seconds of audio turned into log-mel per second of wall time (best of >= 3 runs);");
    println!("in brackets: per second of CPU time (user+sys, mean over the runs), which a busy machine disturbs less.");
    println!("'clips': one log_mel call per clip, 2 threads = rayon par_iter over clips;");
    println!("'one signal': the clips concatenated into one {audio_s:.0} s signal, 2 threads = log_mel_par.");
    println!();
    println!("| input | hop | n_mels | baseline 1 thread | diffres-audio 1 thread | diffres-audio 2 threads | 1-thread speed-up vs baseline | 2-thread scaling |");
    println!("|---|---|---|---|---|---|---|---|");
    for hop_ms in [10.0f32, 1.0] {
        let cfg = LogMelConfig::default().with_hop_ms(hop_ms);
        let lm = LogMel::new(cfg).unwrap();
        let min_t = if hop_ms < 5.0 { 2.0 } else { 1.0 };
        for single in [false, true] {
            let (tb, cb) = if single {
                best_of(
                    || {
                        std::hint::black_box(baseline(&lm, std::slice::from_ref(&joined)));
                    },
                    min_t,
                )
            } else {
                best_of(
                    || {
                        std::hint::black_box(baseline(&lm, &clips));
                    },
                    min_t,
                )
            };
            let mut rt = Vec::new();
            let mut rc = Vec::new();
            for threads in [1usize, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let (t, c) = pool.install(|| {
                    best_of(
                        || {
                            if single {
                                let spec = if threads == 1 {
                                    lm.log_mel(&joined)
                                } else {
                                    lm.log_mel_par(&joined)
                                };
                                std::hint::black_box(spec.unwrap());
                            } else {
                                let v: Vec<usize> = clips
                                    .par_iter()
                                    .map(|c| lm.log_mel(c).unwrap().frames)
                                    .collect();
                                std::hint::black_box(v);
                            }
                        },
                        min_t,
                    )
                });
                rt.push(audio_s / t);
                rc.push(c.map(|c| audio_s / c));
            }
            let xb = audio_s / tb;
            let cpu = |c: Option<f64>| c.map(|c| format!(" ({c:.0}x)")).unwrap_or_default();
            println!(
                "| {} | {hop_ms} ms | 128 | {xb:.0}x{} | {:.0}x{} | {:.0}x{} | {:.1} | {:.2} |",
                if single { "one signal" } else { "clips" },
                cpu(cb.map(|c| audio_s / c)),
                rt[0],
                cpu(rc[0]),
                rt[1],
                cpu(rc[1]),
                rt[0] / xb,
                rt[1] / rt[0]
            );
        }
    }
}
