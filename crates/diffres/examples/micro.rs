use std::time::Instant;
use burn::prelude::*;
use burn::tensor::{Distribution, IndexingUpdateOp};
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
    let (b, t, f) = (32usize, 3000usize, 128usize);
    let n = b * t;
    let device = Device::flex();
    let x = Tensor::<3>::random([b, t, f], Distribution::Normal(-5.0, 2.0), &device);
    let pos = Tensor::<2>::random([t, f], Distribution::Default, &device);
    let w = Tensor::<2>::random([n, 1], Distribution::Default, &device);
    time("exp", &device, || x.clone().exp());
    time("sub scalar-ish [B,1,1]", &device, || x.clone() - Tensor::<3>::ones([b,1,1], &device));
    time("max_dim x2", &device, || x.clone().max_dim(2).max_dim(1));
    time("expand pos", &device, || pos.clone().unsqueeze_dim::<3>(0).expand([b, t, f]));
    let pe = pos.clone().unsqueeze_dim::<3>(0).expand([b, t, f]);
    time("cat value,expanded", &device, || Tensor::cat(vec![x.clone(), pe.clone()], 2));
    let both = Tensor::cat(vec![x.clone(), pe.clone()], 2).reshape([n, 2 * f]);
    time("both * w [N,2F]x[N,1]", &device, || both.clone() * w.clone());
    let rows: Vec<i64> = (0..n).map(|i| (i / 4) as i64).collect();
    time("index from_data", &device, || Tensor::<1, Int>::from_data(TensorData::new(rows.clone(), [n]), &device));
    let idx = Tensor::<1, Int>::from_data(TensorData::new(rows.clone(), [n]), &device);
    time("select_assign add", &device, || Tensor::<2>::zeros([n / 4 + 1, 2 * f], &device).select_assign(0, idx.clone(), both.clone(), IndexingUpdateOp::Add));
    time("to_data [B,T,F]", &device, || x.clone().into_data().convert::<f32>().try_to_vec::<f32>().unwrap());
    let xf = x.clone().reshape([n, f]);
    let gi: Vec<i64> = (0..(n / 4) * f).map(|i| ((i / f) * 4) as i64).collect();
    let gidx = Tensor::<2, Int>::from_data(TensorData::new(gi.clone(), [n / 4, f]), &device);
    time("gather [n/4,F]", &device, || xf.clone().gather(0, gidx.clone()));
    time("select 1d [n/4*F]", &device, || w.clone().reshape([n]).select(0, gidx.clone().reshape([(n/4)*f])));
    time("narrow+reshape", &device, || both.clone().reshape([b, t, 2*f]).narrow(1, 0, t - 1).narrow(2, 0, f).log());
    time("log", &device, || x.clone().log());
    time("to_data only", &device, || x.clone().into_data());
    time("to_data as_slice sum", &device, || { let d = x.clone().into_data(); d.as_slice::<f32>().unwrap().iter().sum::<f32>() });
    let wb = Tensor::<3>::random([b, t, 1], Distribution::Default, &device);
    time("pos bcast mul [1,T,F]*[B,T,1]", &device, || pos.clone().unsqueeze_dim::<3>(0) * wb.clone());
    time("pos expand mul", &device, || pos.clone().unsqueeze_dim::<3>(0).expand([b, t, f]) * wb.clone());
    time("x * wb", &device, || x.clone() * wb.clone());
    time("mask_fill", &device, || x.clone().mask_fill(x.clone().lower_elem(-5.0), 0.0));
}
#[allow(dead_code)]
fn extra() {}
