//! Shared by the integration tests: a small deterministic random generator (this crate's tests
//! do not depend on `rand`), and the clip, tensor and comparison helpers of the property tests.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use burn::prelude::*;
use diffres::FrontEndOutput;

/// A 64-bit linear congruential generator (Knuth's MMIX constants).
pub struct Lcg(pub u64);

impl Lcg {
    /// Uniform in `[0, 1)`.
    pub fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }

    /// `n` uniform values in `[lo, hi)`.
    pub fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }

    /// Normal, by Box-Muller.
    pub fn normal(&mut self, mean: f64, std: f64) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        mean + std * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// A log-mel-like clip `[frames, mels]`, row-major: noise around -5 with a few silent frames
/// (so the guide loss has empty frames to work on) and a few loud ones.
pub fn clip(rng: &mut Lcg, frames: usize, mels: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(frames * mels);
    for j in 0..frames {
        let level = match j % 7 {
            2 => -30.0,
            5 => 0.0,
            _ => -5.0,
        };
        for _ in 0..mels {
            v.push(rng.normal(level, 1.5) as f32);
        }
    }
    v
}

pub fn batch(clips: &[Vec<f32>], frames: usize, mels: usize, device: &Device) -> Tensor<3> {
    let data: Vec<f32> = clips.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(data, [clips.len(), frames, mels]), device)
}

pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

pub fn assert_all_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

pub fn scalar(t: Tensor<1>) -> f32 {
    t.into_scalar::<f32>()
}

/// Whether the feature, the score (if any), the guide loss and the activeness are all finite.
pub fn all_finite(out: &FrontEndOutput) -> bool {
    let f = host(out.feature.clone());
    let mut ok = f.iter().all(|v| v.is_finite());
    if let Some(s) = &out.score {
        ok &= host(s.clone()).iter().all(|v| v.is_finite());
    }
    ok && scalar(out.guide_loss.clone()).is_finite() && scalar(out.activeness.clone()).is_finite()
}
