//! Scratch A/B of convolution formulations under autodiff.
use std::time::Instant;

use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::PaddingConfig1d;
use burn::prelude::*;
use burn::tensor::Distribution;

fn per_tap(conv: &Conv1d, x: Tensor<3>) -> Tensor<3> {
    let weight = conv.weight.val();
    let [batch, cin, frames] = x.dims();
    let [cout, _, kernel] = weight.dims();
    let device = x.device();
    let pad = (kernel - 1) / 2;
    let padded = Tensor::cat(
        vec![
            Tensor::<3>::zeros([batch, cin, pad], &device),
            x,
            Tensor::<3>::zeros([batch, cin, pad], &device),
        ],
        2,
    );
    let taps = (0..kernel).map(|d| {
        let w = weight.clone().narrow(2, d, 1).reshape([1, cout, cin]);
        w.matmul(padded.clone().narrow(2, d, frames))
    });
    let sum = taps.reduce(|a, b| a + b).unwrap();
    sum + conv.bias.as_ref().unwrap().val().reshape([1, cout, 1])
}

fn unfold(conv: &Conv1d, x: Tensor<3>) -> Tensor<3> {
    let weight = conv.weight.val();
    let [batch, cin, frames] = x.dims();
    let [cout, _, kernel] = weight.dims();
    let device = x.device();
    let pad = (kernel - 1) / 2;
    let padded = Tensor::cat(
        vec![
            Tensor::<3>::zeros([batch, cin, pad], &device),
            x,
            Tensor::<3>::zeros([batch, cin, pad], &device),
        ],
        2,
    );
    let cols = Tensor::cat(
        (0..kernel)
            .map(|d| padded.clone().narrow(2, d, frames))
            .collect(),
        1,
    ); // [B, K*Cin, T], row d*Cin + c
    let w = weight.swap_dims(1, 2).reshape([1, cout, kernel * cin]);
    w.matmul(cols) + conv.bias.as_ref().unwrap().val().reshape([1, cout, 1])
}

fn time(name: &str, device: &Device, f: impl Fn()) {
    f();
    device.sync().unwrap();
    let mut v = Vec::new();
    for _ in 0..5 {
        let s = Instant::now();
        f();
        device.sync().unwrap();
        v.push(s.elapsed().as_secs_f64() * 1e3);
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("{name:>40}: {:8.1} ms (min {:.1})", v[2], v[0]);
}

fn main() {
    let frames: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3000);
    let device = Device::flex().autodiff();
    {
        use burn::nn::BatchNormConfig;
        use burn::tensor::activation::relu;
        let a =
            Tensor::<3>::random([32, 64, frames], Distribution::Default, &device).require_grad();
        let b = Tensor::<3>::random([32, 64, frames], Distribution::Default, &device);
        let plain = Device::flex();
        let pa = Tensor::<3>::random([32, 64, frames], Distribution::Default, &plain);
        let pb = Tensor::<3>::random([32, 64, frames], Distribution::Default, &plain);
        time("plain add", &plain, || {
            let _ = pa.clone() + pb.clone();
        });
        time("plain mul scalar", &plain, || {
            let _ = pa.clone() * 2.0;
        });
        time("plain exp", &plain, || {
            let _ = pa.clone().exp();
        });
        time("plain relu", &plain, || {
            let _ = relu(pa.clone());
        });
        time("plain sum", &plain, || {
            let _ = pa.clone().sum();
        });
        time("plain to_data", &plain, || {
            let _ = pa.clone().to_data();
        });
        time("ad sum bwd", &device, || {
            let _ = a.clone().sum().backward();
        });
        time("ad add+sum bwd", &device, || {
            let _ = (a.clone() + b.clone()).sum().backward();
        });
        time("ad relu+sum bwd", &device, || {
            let _ = relu(a.clone()).sum().backward();
        });
        let bn = BatchNormConfig::new(64).init(&device);
        time("ad bn+sum bwd", &device, || {
            let _ = bn.forward(a.clone()).sum().backward();
        });
        let bnp = BatchNormConfig::new(64).init(&plain);
        time("plain bn (eval?)", &plain, || {
            let _ = bnp.forward(pa.clone());
        });
    }
    for (cin, cout) in [(128, 64), (64, 64), (64, 32), (32, 32)] {
        let conv = Conv1dConfig::new(cin, cout, 5)
            .with_padding(PaddingConfig1d::Explicit(2, 2))
            .init(&device);
        let x = Tensor::<3>::random([32, cin, frames], Distribution::Default, &device);
        let xt = x.clone().require_grad();
        for (tracked, x) in [(false, x), (true, xt)] {
            time(
                &format!("{cin}->{cout} x{tracked} per_tap"),
                &device,
                || {
                    let _ = per_tap(&conv, x.clone()).sum().backward();
                },
            );
            time(&format!("{cin}->{cout} x{tracked} unfold"), &device, || {
                let _ = unfold(&conv, x.clone()).sum().backward();
            });
            time(&format!("{cin}->{cout} x{tracked} burn"), &device, || {
                let _ = conv.forward(x.clone()).sum().backward();
            });
        }
    }
}
