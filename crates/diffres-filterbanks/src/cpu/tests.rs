//! The kernels against a plain reference, and the dispatch.

use burn::prelude::*;

use super::filter::HostAlgorithm;
use super::kernel::{self, Dims};

fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_add(12345);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}

/// The definition, in f64: energies `[B, F, T]`.
fn reference(d: &Dims, x: &[f32], w: &[f32], win: &[f32]) -> Vec<f64> {
    let (n, k, p, f, t) = (d.samples, d.taps, d.pool, d.filters(), d.frames());
    let (hk, hp) = ((k - 1) as isize / 2, (p - 1) as isize / 2);
    let at = |b: usize, i: isize| {
        if i < 0 || i >= n as isize {
            0.0
        } else {
            x[b * n + i as usize] as f64
        }
    };
    let y = |b: usize, c: usize, m: isize| -> f64 {
        (0..k)
            .map(|j| w[c * k + j] as f64 * at(b, m + j as isize - hk))
            .sum()
    };
    let mut out = vec![0.0; d.batch * f * t];
    for b in 0..d.batch {
        for fi in 0..f {
            let row = if d.shared_window { 0 } else { fi };
            for ti in 0..t {
                let mut e = 0.0;
                for q in 0..p {
                    let m = (ti * d.hop) as isize + q as isize - hp;
                    if m < 0 || m >= n as isize {
                        continue;
                    }
                    let mut pw = y(b, fi, m).powi(2);
                    if d.complex {
                        pw += y(b, fi + f, m).powi(2);
                    }
                    e += win[row * p + q] as f64 * pw;
                }
                out[(b * f + fi) * t + ti] = e;
            }
        }
    }
    out
}

#[test]
fn both_algorithms_match_the_definition() {
    for (complex, shared, n, k, p, hop) in [
        (true, true, 700, 33, 17, 8),
        (false, false, 301, 65, 9, 5),
        (true, false, 20, 33, 17, 8),
        (false, true, 5000, 129, 31, 16),
    ] {
        let c = if complex { 4 } else { 3 };
        let f = if complex { c / 2 } else { c };
        let d = Dims {
            batch: 2,
            samples: n,
            channels: c,
            taps: k,
            pool: p,
            hop,
            complex,
            shared_window: shared,
        };
        let x = noise(2 * n, 1);
        let w = noise(c * k, 2);
        let win: Vec<f32> = noise(if shared { 1 } else { f } * p, 3)
            .iter()
            .map(|v| v.abs())
            .collect();
        let want = reference(&d, &x, &w, &win);
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for algorithm in [HostAlgorithm::Gemm, HostAlgorithm::Fft] {
            let got = kernel::forward(&d, &w, &win, &kernel::pad_batch(&d, &x), algorithm);
            assert_eq!(got.len(), want.len());
            let err = got
                .iter()
                .zip(&want)
                .fold(0.0f64, |m, (g, r)| m.max((*g as f64 - r).abs()));
            assert!(err <= 1e-5 * scale, "{algorithm:?} {d:?}: {err} vs {scale}");
        }
    }
}

#[test]
fn the_host_kernels_are_taken_on_flex_and_only_when_enabled() {
    let go = |device: &Device| {
        let x = Tensor::<2>::zeros([1, 100], device);
        let w = Tensor::<3>::ones([2, 1, 5], device);
        let win = Tensor::<3>::ones([1, 1, 3], device);
        super::op::energies(&x, &w, &win, 10, true).map(|t| t.dims())
    };
    assert_eq!(go(&Device::flex()), Some([1, 1, 10]));
    assert_eq!(go(&Device::flex().autodiff()), Some([1, 1, 10]));
    super::use_host_kernels(false);
    assert_eq!(go(&Device::flex()), None);
    super::use_host_kernels(true);
}

/// The filtering's use of the layer's matrix product: a Hankel view (row and column stride
/// 1, overlapping itself) of the samples makes one product a convolution.
#[test]
fn hankel_view_product_is_a_convolution() {
    use diffres::kernel_support::{matmul, View, ViewMut};
    let x: Vec<f32> = (0..10).map(|i| i as f32 * 0.5 - 1.0).collect();
    let w = [1.0f32, -2.0, 0.5];
    let mut y = vec![0.0f32; 8];
    matmul(
        (1, 8, 3),
        ViewMut::new(&mut y, 0, 8, 1),
        View::new(&w, 0, 3, 1),
        View::new(&x, 0, 1, 1),
        false,
        1,
    );
    for (j, &v) in y.iter().enumerate() {
        let want: f32 = (0..3).map(|k| w[k] * x[j + k]).sum();
        assert!((v - want).abs() < 1e-6, "{j}: {v} vs {want}");
    }
}
