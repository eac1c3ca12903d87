//! Where the DiffRes forward pass spends its time (inference device): importance network,
//! normalisation, plan, warp, and the warp's segment reductions.
//!
//! ```text
//! cargo run --release -p diffres --example profile_layer [-- T]
//! ```

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use diffres::score_norm::{normalize, ScoreNormalization};
use diffres::segment::{segment_max, segment_sum};
use diffres::warp::{warp, WarpPlan};
use diffres::ImportanceNetConfig;

/// CPU seconds (user + system) of this process so far: less sensitive than wall time to other
/// processes competing for the cores.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn time<R>(name: &str, device: &Device, f: impl Fn() -> R) -> R {
    let _ = f();
    device.sync().expect("sync");
    let mut times = Vec::new();
    let mut r = None;
    let cpu = cpu_seconds();
    for _ in 0..5 {
        let start = Instant::now();
        r = Some(f());
        device.sync().expect("sync");
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let cpu = (cpu_seconds() - cpu) * 1e3 / 5.0;
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{name:>28}: median {:8.1} ms, min {:8.1} ms, cpu {cpu:8.1} ms",
        times[2], times[0]
    );
    r.unwrap()
}

fn main() {
    let frames: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3000);
    let (batch, mels, delta) = (32, 128, 0.75);
    let t = diffres::output_frames(frames, delta).unwrap();
    for autodiff in [false, true] {
        let device = if autodiff {
            Device::flex().autodiff()
        } else {
            Device::flex()
        };
        println!("B = {batch}, T = {frames}, F = {mels}, autodiff = {autodiff}");
        let x = Tensor::<3>::random(
            [batch, frames, mels],
            Distribution::Normal(-5.0, 2.0),
            &device,
        );
        let net = ImportanceNetConfig::new(mels).init(&device).unwrap();
        let raw = time("importance net", &device, || net.forward(x.clone(), None));
        let lengths = vec![frames; batch];
        let n = time("normalize", &device, || {
            normalize(raw.clone(), t, &lengths, ScoreNormalization::ExactSum)
        });
        let plan = time("plan", &device, || WarpPlan::new(&n.host, batch, frames, t));
        let pos = Tensor::<2>::from_data(
            TensorData::new(diffres::position::sinusoidal(frames, mels), [frames, mels]),
            &device,
        );
        let w = time("warp", &device, || {
            warp(
                x.clone(),
                n.score.clone(),
                &plan,
                pos.clone(),
                &lengths,
                delta,
            )
        });
        if autodiff {
            time("warp fwd+bwd", &device, || {
                let w = warp(
                    x.clone(),
                    n.score.clone().detach().require_grad(),
                    &plan,
                    pos.clone(),
                    &lengths,
                    delta,
                );
                w.feature.sum().backward()
            });
            time("net fwd+bwd", &device, || {
                net.forward(x.clone(), None).sum().backward()
            });
        }
        drop(w);
        let rows: Vec<i64> = (0..2 * batch * frames)
            .map(|i| ((i % (batch * frames)) / 4) as i64)
            .collect();
        let src = Tensor::<2>::random(
            [2 * batch * frames, 2 * mels],
            Distribution::Default,
            &device,
        );
        time("segment_sum [2N, 2F]", &device, || {
            segment_sum(src.clone(), &rows, batch * frames / 4 + 1)
        });
        let src = Tensor::<2>::random([2 * batch * frames, mels], Distribution::Default, &device);
        time("segment_max [2N, F]", &device, || {
            segment_max(src.clone(), &rows, batch * frames / 4 + 1, 0.0)
        });
    }
}
