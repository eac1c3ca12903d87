//! The flex host kernels against the portable Burn path: outputs and every gradient (each
//! learnable tensor and the waveform) agree to a relative tolerance of the tensor's largest
//! magnitude (`REL` = 1e-4 for outputs, `REL_GRAD` = 1e-4 for gradients: f32 sums in another
//! order; the largest difference seen is about 2e-5), for the three front ends, on the default (Table 3) sizes and on odd ones: one clip,
//! a clip shorter than the kernel, a length that is not a multiple of the hop, one filter, a
//! clip longer than one kernel time block; each with both filtering algorithms (matrix
//! product and FFT); plus finite output on silence.

use burn::module::Param;
use burn::prelude::*;
use diffres_filterbanks::*;

const REL: f64 = 1e-4;
const REL_GRAD: f64 = 1e-4;

fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Deterministic values in `[-1, 1)` (a 64-bit LCG).
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}

fn wave(batch: usize, n: usize, seed: u64, device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(noise(batch * n, seed), [batch, n]), device)
}

/// `max |a - b| <= rel max |b|` (and `b` not all zero), else a panic naming `what`.
fn assert_close(what: &str, a: &[f32], b: &[f32], rel: f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().map(|v| v.abs() as f64).fold(0.0, f64::max);
    let diff = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .fold(0.0, f64::max);
    assert!(a.iter().all(|v| v.is_finite()), "{what}: non-finite values");
    assert!(scale > 0.0, "{what}: all zero");
    assert!(
        diff <= rel * scale,
        "{what}: max difference {diff} > {rel} x max {scale}"
    );
}

/// Reads named parameter gradients out of a `Gradients`.
type ParamGrads<M> = dyn Fn(&M, &burn::tensor::Gradients) -> Vec<(&'static str, Vec<f32>)>;

/// Output and gradients of `sum(out * r)` (input included when `input_grad`) on one path.
fn run<M>(
    module: &M,
    x: &Tensor<2>,
    forward: &dyn Fn(&M, Tensor<2>) -> Tensor<3>,
    params: &ParamGrads<M>,
    input_grad: bool,
    host_kernels: bool,
) -> Vec<(&'static str, Vec<f32>)> {
    use_host_kernels(host_kernels);
    let x = if input_grad {
        x.clone().require_grad()
    } else {
        x.clone()
    };
    let out = forward(module, x.clone());
    let r = Tensor::<3>::from_data(
        TensorData::new(noise(out.shape().num_elements(), 7), out.dims()),
        &out.device(),
    );
    let grads = (out.clone() * r).sum().backward();
    let mut all = vec![("output", read(out))];
    if input_grad {
        all.push(("input", read(x.grad(&grads).unwrap())));
    }
    all.extend(params(module, &grads));
    use_host_kernels(true);
    all
}

fn compare<M>(
    name: &str,
    module: &M,
    x: &Tensor<2>,
    forward: &dyn Fn(&M, Tensor<2>) -> Tensor<3>,
    params: &ParamGrads<M>,
) {
    for input_grad in [false, true] {
        let portable = run(module, x, forward, params, input_grad, false);
        for algorithm in [HostAlgorithm::Gemm, HostAlgorithm::Fft] {
            use_host_algorithm(algorithm);
            let fast = run(module, x, forward, params, input_grad, true);
            use_host_algorithm(HostAlgorithm::Auto);
            for ((what, a), (_, b)) in fast.iter().zip(&portable) {
                let rel = if *what == "output" { REL } else { REL_GRAD };
                let case = format!("{name} {what} ({algorithm:?}, input grad {input_grad})");
                assert_close(&case, a, b, rel);
            }
        }
    }
}

/// (filters, kernel taps, pool taps, hop, samples, batch) cases: small, one clip, shorter than
/// the kernel, not a multiple of the hop, one filter, longer than one kernel time block
/// (4096 samples) with the default sizes.
const CASES: [(usize, usize, usize, usize, usize, usize); 6] = [
    (3, 33, 17, 8, 1200, 2),
    (4, 33, 17, 8, 500, 1),
    (3, 33, 17, 8, 20, 2),
    (2, 33, 17, 8, 1203, 2),
    (1, 33, 17, 8, 301, 2),
    (64, 401, 401, 160, 9001, 2),
];

fn td(g: &burn::tensor::Gradients, m: &TdFbank) -> Vec<(&'static str, Vec<f32>)> {
    vec![("weight", read(m.weight.grad(g).unwrap()))]
}

#[test]
fn tdfbank_fast_path_matches_portable() {
    let device = Device::flex().autodiff();
    for (i, &(f, k, p, hop, n, b)) in CASES.iter().enumerate() {
        let m = TdFbankConfig::new()
            .with_filters(f)
            .with_kernel_size(k)
            .with_pool_size(p)
            .with_hop(hop)
            .init(&device)
            .unwrap();
        let x = wave(b, n, i as u64, &device);
        compare(
            &format!("tdfbank case {i}"),
            &m,
            &x,
            &|m: &TdFbank, x| m.forward(x).unwrap(),
            &|m: &TdFbank, g| td(g, m),
        );
    }
}

#[test]
fn sincnet_fast_path_matches_portable() {
    let device = Device::flex().autodiff();
    for (i, &(f, k, p, hop, n, b)) in CASES.iter().enumerate() {
        let f = if f == 64 { 128 } else { f };
        let m = SincNetConfig::new()
            .with_filters(f)
            .with_kernel_size(k)
            .with_pool_size(p)
            .with_hop(hop)
            .with_min_freq(300.0)
            .init(&device)
            .unwrap();
        let x = wave(b, n, 10 + i as u64, &device);
        compare(
            &format!("sincnet case {i}"),
            &m,
            &x,
            &|m: &SincNet, x| m.forward(x).unwrap(),
            &|m: &SincNet, g| {
                vec![
                    ("low_hz", read(m.low_hz.grad(g).unwrap())),
                    ("band_hz", read(m.band_hz.grad(g).unwrap())),
                ]
            },
        );
    }
}

fn grad(p: &Param<Tensor<1>>, g: &burn::tensor::Gradients) -> Vec<f32> {
    read(p.grad(g).unwrap())
}

#[test]
fn leaf_fast_path_matches_portable() {
    let device = Device::flex().autodiff();
    for (i, &(f, k, p, hop, n, b)) in CASES.iter().enumerate() {
        let m = LeafConfig::new()
            .with_filters(f)
            .with_kernel_size(k)
            .with_pool_size(p)
            .with_hop(hop)
            .init(&device)
            .unwrap();
        let x = wave(b, n, 20 + i as u64, &device);
        compare(
            &format!("leaf case {i}"),
            &m,
            &x,
            &|m: &Leaf, x| m.forward(x).unwrap(),
            &|m: &Leaf, g| {
                vec![
                    ("centre", grad(&m.centre, g)),
                    ("sigma", grad(&m.sigma, g)),
                    ("pool_width", grad(&m.pool_width, g)),
                    ("alpha", grad(&m.alpha, g)),
                    ("delta", grad(&m.delta, g)),
                    ("root", grad(&m.root, g)),
                    ("smooth", grad(&m.smooth, g)),
                ]
            },
        );
    }
}

/// Inference (plain flex, no autodiff) takes the same kernels.
#[test]
fn inference_fast_path_matches_portable() {
    let device = Device::flex();
    let x = wave(3, 5000, 99, &device);
    let td = TdFbankConfig::new().init(&device).unwrap();
    let sinc = SincNetConfig::new().init(&device).unwrap();
    let leaf = LeafConfig::new().init(&device).unwrap();
    let both = |f: &dyn Fn() -> Tensor<3>| {
        let fast = read(f());
        use_host_kernels(false);
        let portable = read(f());
        use_host_kernels(true);
        (fast, portable)
    };
    let (a, b) = both(&|| td.forward(x.clone()).unwrap());
    assert_close("tdfbank inference", &a, &b, REL);
    let (a, b) = both(&|| sinc.forward(x.clone()).unwrap());
    assert_close("sincnet inference", &a, &b, REL);
    let (a, b) = both(&|| leaf.forward(x.clone()).unwrap());
    assert_close("leaf inference", &a, &b, REL);
}

/// Silence through the fast path: the floors' constants, finite gradients.
#[test]
fn silence_through_the_fast_path_is_finite() {
    let device = Device::flex().autodiff();
    let x = Tensor::<2>::zeros([2, 3000], &device);
    let td = TdFbankConfig::new().init(&device).unwrap();
    let leaf = LeafConfig::new().init(&device).unwrap();
    let y = td.forward(x.clone()).unwrap();
    let grads = y.clone().sum().backward();
    let v = read(y);
    assert!(
        v.iter().all(|v| (v - (1e-6f32).ln()).abs() < 1e-4),
        "{:?}",
        &v[..4]
    );
    assert!(read(td.weight.grad(&grads).unwrap())
        .iter()
        .all(|g| g.is_finite()));
    let y = leaf.forward(x).unwrap();
    let grads = y.clone().sum().backward();
    assert!(read(y).iter().all(|v| (v - 0.2078).abs() < 1e-3));
    for p in [&leaf.centre, &leaf.sigma, &leaf.pool_width, &leaf.alpha] {
        assert!(read(p.grad(&grads).unwrap()).iter().all(|g| g.is_finite()));
    }
}
