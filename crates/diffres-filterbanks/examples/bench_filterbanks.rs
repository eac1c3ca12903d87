//! Wall-clock cost of the three front ends on the CPU (Burn flex backend, Burn's `conv1d`).
//!
//! `cargo run --release -p diffres-filterbanks --example bench_filterbanks -- [--json]
//! [--batch 1,8] [--seconds 1.0] [--repeats 3]`
//!
//! Prints one line per (filterbank, batch): with `--json` one JSON object
//! `{"filterbank", "batch", "seconds_audio", "forward_s", "train_step_s", "cpu", "threads"}`,
//! where `forward_s` is the median forward time and `train_step_s` the median forward +
//! backward (of the output's sum, no optimiser) on the autodiff device, in seconds.

use std::time::Instant;

use burn::prelude::*;
use diffres_filterbanks::{LeafConfig, SincNetConfig, TdFbankConfig};

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time(repeats: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    median(
        (0..repeats)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let json = args.iter().any(|a| a == "--json");
    let batches: Vec<usize> = value("--batch")
        .unwrap_or_else(|| "1,8".into())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let seconds: f64 = value("--seconds").unwrap_or_else(|| "1.0".into()).parse()?;
    let repeats: usize = value("--repeats").unwrap_or_else(|| "3".into()).parse()?;
    let cpu = cpu_model();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let samples = (seconds * 16000.0).round() as usize;
    let plain = Device::flex();
    let ad = Device::flex().autodiff();
    for name in ["tdfbank", "sincnet", "leaf"] {
        for &batch in &batches {
            let run = |device: &Device, backward: bool| -> Result<(), Box<dyn std::error::Error>> {
                let x = Tensor::<2>::random(
                    [batch, samples],
                    burn::tensor::Distribution::Uniform(-1.0, 1.0),
                    device,
                );
                let y = match name {
                    "tdfbank" => TdFbankConfig::new().init(device)?.forward(x)?,
                    "sincnet" => SincNetConfig::new().init(device)?.forward(x)?,
                    _ => LeafConfig::new().init(device)?.forward(x)?,
                };
                if backward {
                    let _ = y.sum().backward();
                } else {
                    let _: f32 = y.sum().into_scalar();
                }
                Ok(())
            };
            let forward_s = time(repeats, || run(&plain, false).expect("forward"));
            let train_step_s = time(repeats, || run(&ad, true).expect("train step"));
            if json {
                println!(
                    "{{\"filterbank\":\"{name}\",\"batch\":{batch},\"seconds_audio\":{seconds},\"forward_s\":{forward_s:.6},\"train_step_s\":{train_step_s:.6},\"cpu\":\"{cpu}\",\"threads\":{threads}}}"
                );
            } else {
                println!(
                    "{name:8} batch {batch:3} {seconds} s audio: forward {forward_s:.4} s, train step {train_step_s:.4} s ({cpu}, {threads} threads)"
                );
            }
        }
    }
    Ok(())
}
