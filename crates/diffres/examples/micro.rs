use std::time::Instant;
use burn::nn::conv::Conv1dConfig;
use burn::nn::PaddingConfig1d;
use burn::prelude::*;
use burn::tensor::Distribution;
fn time<R>(name: &str, device: &Device, f: impl Fn() -> R) -> R {
    let _ = f();
    device.sync().unwrap();
    let start = Instant::now();
    let reps = 3;
    for _ in 0..reps - 1 { let _ = f(); }
    let r = f();
    device.sync().unwrap();
    println!("{name:>28}: {:8.1} ms", start.elapsed().as_secs_f64() * 1e3 / reps as f64);
    r
}
fn main() {
    let (b, t) = (32usize, 3000usize);
    for ad in [false, true] {
    let device = if ad { Device::flex().autodiff() } else { Device::flex() };
    for (cin, cout) in [(128usize, 64usize), (64, 64), (16, 8)] {
        let x = Tensor::<3>::random([b, cin, t], Distribution::Normal(0.0, 1.0), &device);
        let conv = Conv1dConfig::new(cin, cout, 5).with_padding(PaddingConfig1d::Explicit(2, 2)).init(&device);
        let a = time(&format!("conv1d {cin}->{cout} ad={ad}"), &device, || { let y = conv.forward(x.clone()); if ad { let _ = y.clone().sum().backward(); } y });
        let w = conv.weight.val(); // [cout, cin, 5]
        let bias = conv.bias.as_ref().unwrap().val();
        let c = time(&format!("matmul {cin}->{cout}"), &device, || {
            let xp = Tensor::cat(vec![Tensor::<3>::zeros([b, cin, 2], &device), x.clone(), Tensor::<3>::zeros([b, cin, 2], &device)], 2);
            let mut y = bias.clone().reshape([1, cout, 1]).expand([b, cout, t]);
            for d in 0..5 {
                let wd = w.clone().narrow(2, d, 1).reshape([1, cout, cin]);
                y = y + wd.matmul(xp.clone().narrow(2, d, t));
            }
            if ad { let _ = y.clone().sum().backward(); }
            y
        });
        let c2 = time(&format!("unfold-matmul {cin}->{cout}"), &device, || {
            let xp = Tensor::cat(vec![Tensor::<3>::zeros([b, cin, 2], &device), x.clone(), Tensor::<3>::zeros([b, cin, 2], &device)], 2);
            let cols = Tensor::cat((0..5).map(|d| xp.clone().narrow(2, d, t)).collect(), 1); // [b, 5cin, t] ordered tap-major
            let wk = w.clone().swap_dims(1, 2).reshape([1, cout, 5 * cin]);
            let y = wk.matmul(cols) + bias.clone().reshape([1, cout, 1]);
            if ad { let _ = y.clone().sum().backward(); }
            y
        });
        let d = host(a.clone() - c) ; let d2 = host(a - c2);
        println!("max diff {} {}", d, d2);
    }
    }
}
fn host(t: Tensor<3>) -> f32 { t.abs().max().into_scalar::<f32>() }
