//! Wall-clock cost of the three front ends on the CPU (Burn flex backend), on each path: the
//! portable Burn operations (`portable`, Burn's `conv1d`) and the fused host kernels with
//! either filtering algorithm (`gemm`: matrix product over a Hankel view; `fft`: overlap-save;
//! `fast`: the automatic choice, FFT from `FFT_MIN_TAPS` taps).
//!
//! `cargo run --release --workspace --example bench_filterbanks -- [--json]
//! [--batch 1,8] [--seconds 1.0] [--repeats 3] [--paths portable,gemm,fft] [--threads N]
//! [--taps 401] [--filters F] [--filterbanks tdfbank,sincnet,leaf]`
//!
//! Prints one line per (filterbank, batch, path): with `--json` one JSON object
//! `{"filterbank", "batch", "path", "taps", "seconds_audio", "forward_s", "train_step_s",
//! "forward_cpu_s", "train_step_cpu_s", "cpu", "avx512", "simd", "threads"}`, where `forward_s` is the
//! median forward time and `train_step_s` the median forward + backward (of the output's sum, no optimiser) on the autodiff device, in
//! seconds: the median of `--repeats` timed calls after one warm-up (`bench/harness.rs`);
//! `*_cpu_s` are the process's CPU seconds (all threads), steadier on a busy machine. Each
//! front end is built once per device, outside the timed calls; the input is drawn inside them.

use burn::prelude::*;
use diffres_filterbanks::{
    HostAlgorithm, Leaf, LeafConfig, SincNet, SincNetConfig, TdFbank, TdFbankConfig,
};

#[path = "../../../bench/harness.rs"]
mod harness;
use harness::{cpu_model, has_avx512, measure, set_threads};

/// One of the three front ends, built once per device (outside the timed calls). Two of them
/// live at a time, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Filterbank {
    TdFbank(TdFbank),
    SincNet(SincNet),
    Leaf(Leaf),
}

impl Filterbank {
    /// `filters`: `None` for the Table 3 default of each.
    fn new(
        name: &str,
        taps: usize,
        filters: Option<usize>,
        device: &Device,
    ) -> diffres_filterbanks::Result<Self> {
        Ok(match name {
            "tdfbank" => {
                let c = TdFbankConfig::new().with_kernel_size(taps);
                let f = filters.unwrap_or(c.filters);
                Self::TdFbank(c.with_filters(f).init(device)?)
            }
            "sincnet" => {
                let c = SincNetConfig::new().with_kernel_size(taps);
                let f = filters.unwrap_or(c.filters);
                Self::SincNet(c.with_filters(f).init(device)?)
            }
            _ => {
                let c = LeafConfig::new().with_kernel_size(taps);
                let f = filters.unwrap_or(c.filters);
                Self::Leaf(c.with_filters(f).init(device)?)
            }
        })
    }

    fn forward(&self, x: Tensor<2>) -> diffres_filterbanks::Result<Tensor<3>> {
        match self {
            Self::TdFbank(m) => m.forward(x),
            Self::SincNet(m) => m.forward(x),
            Self::Leaf(m) => m.forward(x),
        }
    }
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
    let taps: usize = value("--taps").unwrap_or_else(|| "401".into()).parse()?;
    let filters: Option<usize> = value("--filters").map(|f| f.parse()).transpose()?;
    let names: Vec<String> = value("--filterbanks")
        .unwrap_or_else(|| "tdfbank,sincnet,leaf".into())
        .split(',')
        .map(str::to_string)
        .collect();
    let repeats: u32 = value("--repeats").unwrap_or_else(|| "3".into()).parse()?;
    let threads = set_threads(value("--threads").map(|t| t.parse()).transpose()?);
    let paths: Vec<String> = value("--paths")
        .unwrap_or_else(|| "portable,gemm,fft".into())
        .split(',')
        .map(str::to_string)
        .collect();
    let (cpu, avx512, simd) = (cpu_model(), has_avx512(), harness::simd_level());
    let samples = (seconds * 16000.0).round() as usize;
    let plain = Device::flex();
    let ad = Device::flex().autodiff();
    for name in names.iter().map(String::as_str) {
        for &batch in &batches {
            for path in &paths {
                diffres_filterbanks::use_host_kernels(path != "portable");
                diffres_filterbanks::use_host_algorithm(match path.as_str() {
                    "gemm" => HostAlgorithm::Gemm,
                    "fft" => HostAlgorithm::Fft,
                    _ => HostAlgorithm::Auto,
                });
                let (forward, train) = (
                    Filterbank::new(name, taps, filters, &plain)?,
                    Filterbank::new(name, taps, filters, &ad)?,
                );
                let input = |device: &Device| {
                    Tensor::<2>::random(
                        [batch, samples],
                        burn::tensor::Distribution::Uniform(-1.0, 1.0),
                        device,
                    )
                };
                let (forward_s, forward_cpu_s) = measure(repeats, &plain, || {
                    let y = forward.forward(input(&plain)).expect("forward");
                    let _: f32 = y.sum().into_scalar();
                });
                let (train_step_s, train_step_cpu_s) = measure(repeats, &ad, || {
                    let y = train.forward(input(&ad)).expect("train step");
                    let _ = y.sum().backward();
                });
                if json {
                    println!(
                        "{{\"filterbank\":\"{name}\",\"batch\":{batch},\"path\":\"{path}\",\"taps\":{taps},\"seconds_audio\":{seconds},\"forward_s\":{forward_s:.6},\"train_step_s\":{train_step_s:.6},\"forward_cpu_s\":{forward_cpu_s:.6},\"train_step_cpu_s\":{train_step_cpu_s:.6},\"cpu\":\"{cpu}\",\"avx512\":{avx512},\"simd\":\"{simd}\",\"threads\":{threads}}}"
                    );
                } else {
                    println!(
                        "{name:8} batch {batch:3} {path:8} {taps} taps {seconds} s audio: forward {forward_s:.4} s, train step {train_step_s:.4} s ({cpu}, {threads} threads)"
                    );
                }
            }
        }
    }
    Ok(())
}
