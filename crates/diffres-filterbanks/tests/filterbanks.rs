//! Known-answer tests of the three front ends: parameter counts, mel initialisation, frequency
//! responses (plain DFTs of the kernels), gradients by central finite differences, finite
//! output on extreme inputs, the frame convention and config errors.

use burn::module::{Module, Param};
use burn::prelude::*;
use diffres_filterbanks::leaf::ema;
use diffres_filterbanks::*;

fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Deterministic values in `[-1, 1)` (a 64-bit LCG), so no test depends on a seed's stream.
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
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

/// `|sum_n (re[n] + i im[n]) e^{-i w (n - (K-1)/2)}|` at `hz`.
fn dft_mag(re: &[f32], im: &[f32], hz: f64, sample_rate: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / sample_rate;
    let half = (re.len() as f64 - 1.0) / 2.0;
    let (mut a, mut b) = (0.0, 0.0);
    for (j, (&r, &i)) in re.iter().zip(im).enumerate() {
        let (s, c) = (-(w * (j as f64 - half))).sin_cos();
        a += r as f64 * c - i as f64 * s;
        b += r as f64 * s + i as f64 * c;
    }
    (a * a + b * b).sqrt()
}

#[test]
fn parameter_counts_match_table_3() {
    let device = Device::flex();
    assert_eq!(
        TdFbankConfig::new().init(&device).unwrap().num_params(),
        51_328
    );
    assert_eq!(
        SincNetConfig::new().init(&device).unwrap().num_params(),
        256
    );
    assert_eq!(LeafConfig::new().init(&device).unwrap().num_params(), 448);
    assert_eq!(64 * 2 * 401, 51_328);
    assert_eq!(128 * 2, 256);
    assert_eq!(64 * 7, 448);
    // LEAF's own 40-filter setting: 280.
    let leaf40 = LeafConfig::new().with_filters(40).init(&device).unwrap();
    assert_eq!(leaf40.num_params(), 280);
}

#[test]
fn initial_centres_follow_the_htk_mel_scale() {
    let device = Device::flex();
    let sr = 16000.0;
    let leaf = LeafConfig::new().init(&device).unwrap();
    let centres: Vec<f64> = read(leaf.centre.val())
        .iter()
        .map(|&mu| mu as f64 * sr / (2.0 * std::f64::consts::PI))
        .collect();
    // 66 points equally spaced in HTK mel from 60 to 7800 Hz; centres are points 1..=64.
    let step = (hz_to_mel(7800.0) - hz_to_mel(60.0)) / 65.0;
    for (i, c) in centres.iter().enumerate() {
        let want = mel_to_hz(hz_to_mel(60.0) + (i + 1) as f64 * step);
        assert!((c - want).abs() < 2e-2, "filter {i}: {c} Hz vs {want} Hz");
    }
    // Known answers (2595 log10(1 + f / 700)): first and last centres 88.8 and 7490.0 Hz.
    assert!((centres[0] - 88.8).abs() < 0.1, "{}", centres[0]);
    assert!((centres[63] - 7490.0).abs() < 0.1, "{}", centres[63]);

    // SincNet: band edges are 129 mel-spaced points from 60 to 7800 Hz.
    let sinc = SincNetConfig::new().init(&device).unwrap();
    let (low, high) = sinc.cutoffs();
    let (low, high) = (read(low), read(high));
    let edges = mel_points(129, 60.0, 7800.0);
    for i in 0..128 {
        assert!((low[i] as f64 - edges[i]).abs() < 1e-2, "low {i}");
        assert!((high[i] as f64 - edges[i + 1]).abs() < 1e-2, "high {i}");
    }
    assert!((low[0] - 60.0).abs() < 1e-3 && (high[0] - 74.472).abs() < 1e-2);
    assert!((high[127] - 7800.0).abs() < 1e-2);
}

/// Peak frequency, peak power and amplitude FWHM of the initial Gabor filters against their mel
/// triangles (DFT on a 2 Hz grid). A Gabor filter whose Gaussian fits in the kernel
/// (`3 sigma <= (K - 1) / 2`) must match: peak within 2 Hz of the triangle centre, peak power
/// within 1.5 % of the triangle's 1, FWHM within 2 % + 4 Hz. Truncated (low-frequency) filters:
/// peak within 2 Hz, peak power in [0.7, 1], FWHM from the triangle's (less 4 Hz of grid) to 1.35
/// times it (truncation widens the response).
#[test]
fn initial_gabor_responses_match_the_mel_triangles() {
    let device = Device::flex();
    let cfg = TdFbankConfig::new();
    let td = cfg.init(&device).unwrap();
    let leaf = LeafConfig::new().init(&device).unwrap();
    let (f, k, sr) = (64, 401, 16000.0);
    let weights = read(td.weight.val());
    // LEAF's kernels are built in the forward pass from (mu, sigma): the same filters.
    let leaf_weights = read(leaf.kernels());
    let max_diff = weights
        .iter()
        .zip(&leaf_weights)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(max_diff < 1e-5, "TD-fbank vs LEAF kernels: {max_diff}");
    let tris = mel_triangles(f, 60.0, 7800.0);
    let gabor = LeafConfig::new().initial_gabor();
    let grid: Vec<f64> = (0..=4000).map(|i| i as f64 * 2.0).collect();
    for (i, tri) in tris.iter().enumerate() {
        let re = &weights[i * k..(i + 1) * k];
        let im = &weights[(f + i) * k..(f + i + 1) * k];
        let mag: Vec<f64> = grid.iter().map(|&hz| dft_mag(re, im, hz, sr)).collect();
        let (peak_i, peak) =
            mag.iter()
                .enumerate()
                .fold((0, 0.0), |a, (j, &m)| if m > a.1 { (j, m) } else { a });
        let peak_hz = grid[peak_i];
        let above: Vec<f64> = grid
            .iter()
            .zip(&mag)
            .filter(|(_, &m)| m >= peak / 2.0)
            .map(|(&hz, _)| hz)
            .collect();
        let fwhm = above.last().unwrap() - above.first().unwrap();
        let want = tri.amplitude_fwhm_hz();
        let power = peak * peak;
        assert!(
            (peak_hz - tri.centre_hz).abs() <= 2.0,
            "filter {i}: peak {peak_hz} Hz vs centre {} Hz",
            tri.centre_hz
        );
        if 3.0 * gabor[i].1 <= 200.0 {
            assert!(
                (power - 1.0).abs() < 0.015,
                "filter {i}: peak power {power}"
            );
            assert!(
                (fwhm - want).abs() <= 0.02 * want + 4.0,
                "filter {i}: FWHM {fwhm} Hz vs {want} Hz"
            );
        } else {
            assert!(
                (0.7..=1.0).contains(&power),
                "filter {i}: peak power {power}"
            );
            // The 2 Hz grid can shorten a measured width by up to 4 Hz.
            assert!(
                fwhm >= want - 4.0 && fwhm <= 1.35 * want,
                "filter {i}: FWHM {fwhm} Hz vs {want} Hz"
            );
        }
    }
}

/// SincNet's initial bands (DFT of the kernels). With 16 filters, every band wider than
/// `8 sr / K` = 320 Hz (twice the Hamming main lobe) has unit gain at its centre (within 3 %) and
/// half amplitude (-6 dB, within 0.05) at both cut-offs. With the default 128 filters all bands
/// are narrower than that (14.5 to 160 Hz), so only the peak is checked: inside the band,
/// widened by `sr / K` = 40 Hz.
#[test]
fn initial_sinc_responses_match_the_mel_bands() {
    let device = Device::flex();
    let (k, sr) = (401, 16000.0);
    let zeros = vec![0f32; k];
    for filters in [16, 128] {
        let sinc = SincNetConfig::new()
            .with_filters(filters)
            .init(&device)
            .unwrap();
        let h = read(sinc.kernels());
        let edges = mel_points(filters + 1, 60.0, 7800.0);
        let mut wide = 0;
        for i in 0..filters {
            let kern = &h[i * k..(i + 1) * k];
            let (lo, hi) = (edges[i], edges[i + 1]);
            let mag = |hz: f64| dft_mag(kern, &zeros, hz, sr);
            if hi - lo > 8.0 * sr / k as f64 {
                wide += 1;
                let c = mag((lo + hi) / 2.0);
                assert!((c - 1.0).abs() < 0.03, "{filters}/{i}: centre gain {c}");
                for edge in [lo, hi] {
                    let e = mag(edge);
                    assert!(
                        (e - 0.5).abs() < 0.05,
                        "{filters}/{i}: gain {e} at {edge} Hz"
                    );
                }
            }
            if filters == 128 {
                let (peak_hz, _) = (0..=2000)
                    .map(|j| (j as f64 * 4.0, mag(j as f64 * 4.0)))
                    .fold((0.0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
                assert!(
                    peak_hz >= lo - 40.0 && peak_hz <= hi + 40.0,
                    "band {i} [{lo}, {hi}]: peak at {peak_hz} Hz"
                );
            }
        }
        if filters == 16 {
            assert!(wide >= 6, "only {wide} bands were wide enough to check");
        }
    }
}

#[test]
fn blocked_ema_matches_the_recurrence() {
    let device = Device::flex();
    let (b, c, t) = (2, 3, 150); // 3 blocks of 64
    let x = noise(b * c * t, 5)
        .iter()
        .map(|v| v + 1.5)
        .collect::<Vec<f32>>();
    let w = [0.04f32, 0.5, 0.9];
    let got = read(ema(
        Tensor::<3>::from_data(TensorData::new(x.clone(), [b, c, t]), &device),
        Tensor::<1>::from_data(TensorData::new(w.to_vec(), [c]), &device),
    ));
    for bi in 0..b {
        for ci in 0..c {
            let row = &x[(bi * c + ci) * t..(bi * c + ci + 1) * t];
            let mut m = row[0] as f64;
            for (ti, &v) in row.iter().enumerate() {
                m = w[ci] as f64 * v as f64 + (1.0 - w[ci] as f64) * m;
                let g = got[(bi * c + ci) * t + ti] as f64;
                assert!(
                    (g - m).abs() < 1e-5 * m.abs().max(1.0),
                    "({bi},{ci},{ti}): {g} vs {m}"
                );
            }
        }
    }
}

/// Rebuilds a module with one parameter tensor replaced by the given values.
type With<M> = Box<dyn Fn(&M, Vec<f32>) -> M>;

/// One learnable tensor for the finite-difference check.
struct Case<M> {
    name: &'static str,
    value: Vec<f32>,
    grad: Vec<f32>,
    h: f64,
    with: With<M>,
}

/// Central differences `(L(p + h) - L(p - h)) / 2h` of `L = sum(out * r)` against autodiff,
/// for 6 input samples and up to 6 entries of every parameter tensor. f32 throughout, so an
/// entry passes when `|autodiff - fd| <= 2 % max|autodiff| + 2 % |fd| + 1e-4` (max over the
/// checked entries of the same tensor).
fn check_grads<M: Clone + 'static>(
    name: &str,
    module: &M,
    x: &Tensor<2>,
    forward: &dyn Fn(&M, Tensor<2>) -> Tensor<3>,
    cases: &dyn Fn(&M, &burn::tensor::Gradients) -> Vec<Case<M>>,
) {
    let out = forward(module, x.clone());
    let r = Tensor::<3>::from_data(
        TensorData::new(noise(out.shape().num_elements(), 11), out.dims()),
        &out.device(),
    );
    let loss = |m: &M, x: Tensor<2>| -> f64 { read((forward(m, x) * r.clone()).sum())[0] as f64 };
    let xg = x.clone().require_grad();
    let grads = (forward(module, xg.clone()) * r.clone()).sum().backward();
    let dims = x.dims();
    let device = x.device();
    let xv = read(x.clone());
    let mut all = vec![Case {
        name: "input",
        value: xv.clone(),
        grad: read(xg.grad(&grads).unwrap()),
        h: 1e-2,
        with: Box::new(|m: &M, _| m.clone()),
    }];
    all.extend(cases(module, &grads));
    for case in all {
        let n = case.value.len();
        let idx: Vec<usize> = (0..6.min(n))
            .map(|i| (i * n / 6.min(n) + n / 13) % n)
            .collect();
        let mut ad = Vec::new();
        let mut fd = Vec::new();
        for &i in &idx {
            let shifted = |d: f64| {
                let mut v = case.value.clone();
                v[i] += d as f32;
                if case.name == "input" {
                    loss(
                        module,
                        Tensor::<2>::from_data(TensorData::new(v, dims), &device),
                    )
                } else {
                    loss(&(case.with)(module, v), x.clone())
                }
            };
            fd.push((shifted(case.h) - shifted(-case.h)) / (2.0 * case.h));
            ad.push(case.grad[i] as f64);
        }
        let scale = ad.iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!(
            scale > 1e-6,
            "{name} {}: all checked gradients are zero",
            case.name
        );
        for (a, f) in ad.iter().zip(&fd) {
            let tol = 0.02 * scale + 0.02 * f.abs() + 1e-4;
            assert!(
                (a - f).abs() <= tol,
                "{name} {}: autodiff {a} vs finite difference {f} (tol {tol}); all ad {ad:?} fd {fd:?}",
                case.name
            );
        }
    }
}

fn param1(v: Vec<f32>, device: &Device) -> Param<Tensor<1>> {
    let n = v.len();
    Param::from_tensor(Tensor::<1>::from_data(TensorData::new(v, [n]), device))
}

/// Small shapes: 3 filters, 33-tap kernels, 17-tap pooling, hop 8, 2 clips of 1200 samples
/// (150 frames, so LEAF's blocked EMA carries state across 3 blocks).
const SMALL: (usize, usize, usize, usize, usize) = (3, 33, 17, 8, 1200);

#[test]
fn tdfbank_gradients_match_finite_differences() {
    let device = Device::flex().autodiff();
    let (f, k, p, hop, n) = SMALL;
    let td = TdFbankConfig::new()
        .with_filters(f)
        .with_kernel_size(k)
        .with_pool_size(p)
        .with_hop(hop)
        .with_min_freq(300.0)
        .with_max_freq(6000.0)
        .init(&device)
        .unwrap();
    let x = wave(2, n, 1, &device);
    check_grads(
        "tdfbank",
        &td,
        &x,
        &|m: &TdFbank, x| m.forward(x).unwrap(),
        &|m: &TdFbank, g| {
            let dev = m.weight.device();
            vec![Case {
                name: "weight",
                value: read(m.weight.val()),
                grad: read(m.weight.grad(g).unwrap()),
                h: 1e-3,
                with: Box::new(move |m: &TdFbank, v| {
                    let mut m = m.clone();
                    let dims = m.weight.val().dims();
                    m.weight =
                        Param::from_tensor(Tensor::from_data(TensorData::new(v, dims), &dev));
                    m
                }),
            }]
        },
    );
}

#[test]
fn sincnet_gradients_match_finite_differences() {
    let device = Device::flex().autodiff();
    let (f, k, p, hop, n) = SMALL;
    let sinc = SincNetConfig::new()
        .with_filters(f)
        .with_kernel_size(k)
        .with_pool_size(p)
        .with_hop(hop)
        .with_min_freq(300.0)
        .with_max_freq(6000.0)
        .init(&device)
        .unwrap();
    let x = wave(2, n, 2, &device);
    let param2 = |v: Vec<f32>, dev: &Device| {
        let n = v.len();
        Param::from_tensor(Tensor::<2>::from_data(TensorData::new(v, [n, 1]), dev))
    };
    check_grads(
        "sincnet",
        &sinc,
        &x,
        &|m: &SincNet, x| m.forward(x).unwrap(),
        &|m: &SincNet, g| {
            let dev = m.low_hz.device();
            let dev2 = dev.clone();
            vec![
                Case {
                    name: "low_hz",
                    value: read(m.low_hz.val()),
                    grad: read(m.low_hz.grad(g).unwrap()),
                    h: 1.0,
                    with: Box::new(move |m: &SincNet, v| {
                        let mut m = m.clone();
                        m.low_hz = param2(v, &dev);
                        m
                    }),
                },
                Case {
                    name: "band_hz",
                    value: read(m.band_hz.val()),
                    grad: read(m.band_hz.grad(g).unwrap()),
                    h: 1.0,
                    with: Box::new(move |m: &SincNet, v| {
                        let mut m = m.clone();
                        m.band_hz = param2(v, &dev2);
                        m
                    }),
                },
            ]
        },
    );
}

#[test]
fn leaf_gradients_match_finite_differences() {
    let device = Device::flex().autodiff();
    let (f, k, p, hop, n) = SMALL;
    let mut leaf = LeafConfig::new()
        .with_filters(f)
        .with_kernel_size(k)
        .with_pool_size(p)
        .with_hop(hop)
        .init(&device)
        .unwrap();
    // Interior values (away from every clamp) that differ per filter.
    leaf.centre = param1(vec![0.3, 1.0, 2.0], &device);
    leaf.sigma = param1(vec![3.0, 5.0, 8.0], &device);
    leaf.pool_width = param1(vec![0.3, 0.35, 0.45], &device);
    leaf.alpha = param1(vec![0.9, 0.8, 0.96], &device);
    leaf.delta = param1(vec![2.0, 1.5, 1.0], &device);
    leaf.root = param1(vec![2.0, 1.5, 3.0], &device);
    leaf.smooth = param1(vec![0.04, 0.2, 0.5], &device);
    let x = wave(2, n, 3, &device);
    type Get = fn(&Leaf) -> &Param<Tensor<1>>;
    type Set = fn(&mut Leaf, Param<Tensor<1>>);
    let fields: [(&'static str, f64, Get, Set); 7] = [
        ("centre", 1e-3, |m| &m.centre, |m, p| m.centre = p),
        ("sigma", 1e-2, |m| &m.sigma, |m, p| m.sigma = p),
        (
            "pool_width",
            1e-3,
            |m| &m.pool_width,
            |m, p| m.pool_width = p,
        ),
        ("alpha", 1e-3, |m| &m.alpha, |m, p| m.alpha = p),
        ("delta", 1e-2, |m| &m.delta, |m, p| m.delta = p),
        ("root", 1e-2, |m| &m.root, |m, p| m.root = p),
        ("smooth", 1e-3, |m| &m.smooth, |m, p| m.smooth = p),
    ];
    check_grads(
        "leaf",
        &leaf,
        &x,
        &|m: &Leaf, x| m.forward(x).unwrap(),
        &|m: &Leaf, g| {
            fields
                .iter()
                .map(|&(name, h, get, set)| {
                    let dev = get(m).device();
                    Case {
                        name,
                        value: read(get(m).val()),
                        grad: read(get(m).grad(g).unwrap()),
                        h,
                        with: Box::new(move |m: &Leaf, v| {
                            let mut m = m.clone();
                            set(&mut m, param1(v, &dev));
                            m
                        }),
                    }
                })
                .collect()
        },
    );
}

#[test]
fn silence_and_clipped_input_give_finite_output() {
    let device = Device::flex();
    let n = 1600;
    let mut rows = vec![0f32; n]; // silence
    rows.extend(vec![1.0f32; n]); // clipped at +1
    rows.extend(vec![-1.0f32; n]); // clipped at -1
    rows.extend((0..n).map(|i| if (i / 16) % 2 == 0 { 1.0f32 } else { -1.0 })); // 500 Hz square
    rows.extend((0..n).map(|i| if i % 2 == 0 { 1.0f32 } else { -1.0 })); // Nyquist
    let x = Tensor::<2>::from_data(TensorData::new(rows, [5, n]), &device);
    let td = read(
        TdFbankConfig::new()
            .init(&device)
            .unwrap()
            .forward(x.clone())
            .unwrap(),
    );
    let sinc = read(
        SincNetConfig::new()
            .init(&device)
            .unwrap()
            .forward(x.clone())
            .unwrap(),
    );
    let leaf = read(LeafConfig::new().init(&device).unwrap().forward(x).unwrap());
    for (name, v) in [("tdfbank", &td), ("sincnet", &sinc), ("leaf", &leaf)] {
        assert!(v.iter().all(|x| x.is_finite()), "{name}: non-finite output");
    }
    // Silence: ln(1e-6) for the log front ends.
    let floor = (1e-6f64).ln();
    assert!(td[..10 * 64]
        .iter()
        .all(|&v| (v as f64 - floor).abs() < 1e-4));
    assert!(sinc[..10 * 128]
        .iter()
        .all(|&v| (v as f64 - floor).abs() < 1e-4));
    // LEAF on silence: energies floored at 1e-5, EMA = 1e-5, so every value is
    // (1e-5 / (1e-12 + 1e-5)^0.96 + 2)^(1/2) - 2^(1/2) = 0.20782...
    let e = 1e-5f64;
    let want = (e / (1e-12 + e).powf(0.96) + 2.0).sqrt() - 2f64.sqrt();
    assert!((want - 0.2078).abs() < 1e-3);
    assert!(
        leaf[..10 * 64]
            .iter()
            .all(|&v| (v as f64 - want).abs() < 1e-4),
        "{}",
        leaf[0]
    );
}

#[test]
fn frame_count_is_ceil_and_appended_zeros_keep_earlier_frames() {
    let device = Device::flex();
    let td = TdFbankConfig::new().init(&device).unwrap();
    let sinc = SincNetConfig::new().init(&device).unwrap();
    let leaf = LeafConfig::new().init(&device).unwrap();
    let run = |x: Tensor<2>| -> Vec<Tensor<3>> {
        vec![
            td.forward(x.clone()).unwrap(),
            sinc.forward(x.clone()).unwrap(),
            leaf.forward(x).unwrap(),
        ]
    };
    for n in [1, 159, 160, 161, 1000] {
        for out in run(wave(1, n, 4, &device)) {
            assert_eq!(out.dims()[1], n.div_ceil(160), "N = {n}");
        }
    }
    // 1000 samples, then the same with 600 zeros appended: frames t with
    // t * 160 + 200 < 1000 (t = 0..=4) only see samples both clips share.
    let short = noise(1000, 9);
    let mut long = short.clone();
    long.extend(vec![0.0; 600]);
    let a = run(Tensor::<2>::from_data(
        TensorData::new(short, [1, 1000]),
        &device,
    ));
    let b = run(Tensor::<2>::from_data(
        TensorData::new(long, [1, 1600]),
        &device,
    ));
    for (name, (a, b)) in ["tdfbank", "sincnet", "leaf"]
        .iter()
        .zip(a.into_iter().zip(b))
    {
        assert_eq!(a.dims()[1], 7);
        assert_eq!(b.dims()[1], 10);
        let filters = a.dims()[2];
        let (a, b) = (read(a), read(b));
        for i in 0..5 * filters {
            assert!(
                (a[i] - b[i]).abs() < 1e-4,
                "{name}: frame {} differs",
                i / filters
            );
        }
        // The last frames do see the difference (the test can fail).
        let last = (6 * filters..7 * filters)
            .map(|i| (a[i] - b[i]).abs())
            .fold(0.0, f32::max);
        assert!(last > 1e-3, "{name}: last frame unchanged");
    }
}

#[test]
fn bad_configs_and_inputs_are_errors_naming_the_field() {
    let device = Device::flex();
    let field = |r: Result<()>| match r {
        Err(FilterbankError::Config { field, .. }) => field,
        other => panic!("expected a config error, got {other:?}"),
    };
    assert_eq!(
        field(TdFbankConfig::new().with_kernel_size(400).validate()),
        "kernel_size"
    );
    assert_eq!(field(TdFbankConfig::new().with_hop(0).validate()), "hop");
    assert_eq!(
        field(TdFbankConfig::new().with_filters(0).validate()),
        "filters"
    );
    assert_eq!(
        field(TdFbankConfig::new().with_max_freq(9000.0).validate()),
        "max_freq"
    );
    assert_eq!(
        field(TdFbankConfig::new().with_pool_size(2).validate()),
        "pool_size"
    );
    assert_eq!(
        field(TdFbankConfig::new().with_log_floor(0.0).validate()),
        "log_floor"
    );
    assert_eq!(
        field(SincNetConfig::new().with_min_band_hz(50.0).validate()),
        "min_band_hz"
    );
    assert_eq!(
        field(SincNetConfig::new().with_min_low_hz(60.0).validate()),
        "min_low_hz"
    );
    assert_eq!(field(LeafConfig::new().with_alpha(1.5).validate()), "alpha");
    assert_eq!(
        field(LeafConfig::new().with_pool_init(0.9).validate()),
        "pool_init"
    );
    assert_eq!(
        field(LeafConfig::new().with_smooth(1.0).validate()),
        "smooth"
    );
    assert_eq!(field(LeafConfig::new().with_root(0.5).validate()), "root");
    assert_eq!(field(LeafConfig::new().with_delta(0.0).validate()), "delta");
    let err = LeafConfig::new().with_alpha(1.5).init(&device).unwrap_err();
    assert!(err.to_string().contains("`alpha`"), "{err}");
    let empty = Tensor::<2>::zeros([1, 0], &device);
    let td = TdFbankConfig::new().init(&device).unwrap();
    assert!(matches!(td.forward(empty), Err(FilterbankError::Input(_))));
}
