//! LEAF (Zeghidour et al., "LEAF: a learnable frontend for audio classification", ICLR 2021),
//! following the reference `google-research/leaf-audio` (`frontend.Leaf`, `GaborConv1D`,
//! `GaussianLowpass`, `PCENLayer`):
//!
//! 1. complex Gabor filters `exp(i mu n) exp(-n^2 / (2 sigma^2)) / (sqrt(2 pi) sigma)` with
//!    learnable centre `mu` (radians per sample, clamped to `[0, pi]`) and width `sigma`
//!    (samples, clamped to [`gabor_sigma_bounds`]), initialised on the mel filterbank;
//! 2. squared modulus;
//! 3. per-channel Gaussian lowpass `exp(-((k - (K-1)/2) / (s (K-1)/2))^2 / 2)`, learnable `s`
//!    clamped to `[2 / K, 0.5]`, initial 0.4, stride `hop`; then `max(x, 1e-5)`;
//! 4. sPCEN: `M_t = w x_t + (1 - w) M_{t-1}`, `M_{-1} = x_0`, per-channel `w` clamped to
//!    `[0, 1 - 1e-6]` (reference: `[0, 1]`; the bound keeps `ln(1 - w)` finite), then
//!    `(x / (floor + M)^alpha + delta)^(1/r) - delta^(1/r)` with `alpha <= 1`, `r >= 1`
//!    (clamped as the reference) and `delta >= 1e-3` (our bound: the reference leaves it free,
//!    a non-positive `delta` gives NaN). Initial `alpha = 0.96`, `w = 0.04`, `delta = 2`,
//!    `r = 2`, `floor = 1e-12`.

use burn::module::Param;
use burn::prelude::*;

use crate::common::{
    centred_taps, check_config, check_waveform, energies, gabor_params, gabor_sigma_bounds,
    mel_triangles,
};
use crate::error::FilterbankError;

/// Floor applied to the pooled energies before sPCEN (the reference's `tf.maximum(x, 1e-5)`).
pub const ENERGY_FLOOR: f64 = 1e-5;
/// Lower bound on sPCEN's `delta`.
pub const MIN_DELTA: f64 = 1e-3;
/// Upper bound on sPCEN's smoothing coefficient.
pub const MAX_SMOOTH: f64 = 1.0 - 1e-6;
/// Frames per block of the blocked EMA scan.
const EMA_BLOCK: usize = 64;

/// Configuration of [`Leaf`]. The defaults are the paper's Table 3 setting: 64 filters,
/// 401 taps (25 ms at 16 kHz), 10 ms hop, the reference's initial values.
#[derive(Config, Debug)]
pub struct LeafConfig {
    /// Number of (complex) Gabor filters, the output's feature dimension.
    #[config(default = 64)]
    pub filters: usize,
    /// Sample rate of the waveform, Hz.
    #[config(default = 16000)]
    pub sample_rate: usize,
    /// Taps of each Gabor kernel (odd).
    #[config(default = 401)]
    pub kernel_size: usize,
    /// Hop between output frames, samples.
    #[config(default = 160)]
    pub hop: usize,
    /// Taps of the Gaussian pooling windows (odd).
    #[config(default = 401)]
    pub pool_size: usize,
    /// Lowest mel edge of the initial filterbank, Hz.
    #[config(default = 60.0)]
    pub min_freq: f64,
    /// Highest mel edge of the initial filterbank, Hz.
    #[config(default = 7800.0)]
    pub max_freq: f64,
    /// Initial Gaussian pooling width (fraction of half the window), in `[2 / pool_size, 0.5]`.
    #[config(default = 0.4)]
    pub pool_init: f64,
    /// Initial sPCEN exponent `alpha`, at most 1.
    #[config(default = 0.96)]
    pub alpha: f64,
    /// Initial sPCEN EMA smoothing coefficient, in `(0, 1)`.
    #[config(default = 0.04)]
    pub smooth: f64,
    /// Initial sPCEN bias `delta`, at least [`MIN_DELTA`].
    #[config(default = 2.0)]
    pub delta: f64,
    /// Initial sPCEN root `r`, at least 1.
    #[config(default = 2.0)]
    pub root: f64,
    /// sPCEN floor added to the EMA (fixed).
    #[config(default = 1e-12)]
    pub floor: f64,
}

fn check_range(field: &'static str, value: f64, lo: f64, hi: f64, what: &str) -> crate::Result<()> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(FilterbankError::config(
            field,
            format!("must be in {what} (got {value})"),
        ))
    }
}

impl LeafConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`FilterbankError::Config`] naming the first bad field.
    pub fn validate(&self) -> crate::Result<()> {
        check_config(
            self.filters,
            self.sample_rate,
            self.kernel_size,
            self.hop,
            self.pool_size,
            self.min_freq,
            self.max_freq,
        )?;
        let lo = 2.0 / self.pool_size as f64;
        check_range(
            "pool_init",
            self.pool_init,
            lo,
            0.5,
            &format!("[{lo}, 0.5]"),
        )?;
        check_range("alpha", self.alpha, f64::MIN, 1.0, "(-inf, 1]")?;
        check_range(
            "smooth",
            self.smooth,
            f64::MIN_POSITIVE,
            MAX_SMOOTH,
            "(0, 1)",
        )?;
        check_range("delta", self.delta, MIN_DELTA, f64::MAX, "[1e-3, inf)")?;
        check_range("root", self.root, 1.0, f64::MAX, "[1, inf)")?;
        check_range("floor", self.floor, f64::MIN_POSITIVE, f64::MAX, "(0, inf)")
    }

    /// The initial Gabor parameters `(mu, sigma)` per filter: `mu` in radians per sample at
    /// the mel triangle's centre, `sigma` matching its amplitude FWHM (see [`gabor_params`]),
    /// clamped to the forward pass's bounds.
    pub fn initial_gabor(&self) -> Vec<(f64, f64)> {
        let (lo, hi) = gabor_sigma_bounds(self.kernel_size);
        mel_triangles(self.filters, self.min_freq, self.max_freq)
            .iter()
            .map(|t| {
                let (mu, sigma) = gabor_params(t, self.sample_rate as f64);
                (mu.clamp(0.0, std::f64::consts::PI), sigma.clamp(lo, hi))
            })
            .collect()
    }

    /// Builds the front end (`7 filters` parameters: 448 with the defaults).
    ///
    /// # Errors
    /// See [`LeafConfig::validate`].
    pub fn init(&self, device: &Device) -> crate::Result<Leaf> {
        self.validate()?;
        let f = self.filters;
        let gabor = self.initial_gabor();
        let vec1 = |v: Vec<f32>| {
            Param::from_tensor(Tensor::<1>::from_data(TensorData::new(v, [f]), device))
        };
        let full = |x: f64| vec1(vec![x as f32; f]);
        Ok(Leaf {
            centre: vec1(gabor.iter().map(|g| g.0 as f32).collect()),
            sigma: vec1(gabor.iter().map(|g| g.1 as f32).collect()),
            pool_width: full(self.pool_init),
            alpha: full(self.alpha),
            delta: full(self.delta),
            root: full(self.root),
            smooth: full(self.smooth),
            filters: f,
            kernel_size: self.kernel_size,
            hop: self.hop,
            pool_size: self.pool_size,
            floor: self.floor,
        })
    }
}

/// LEAF: Gabor filters, squared modulus, Gaussian lowpass pooling and sPCEN, all learnable
/// (7 numbers per filter). Build it with [`LeafConfig`].
#[derive(Module, Debug)]
pub struct Leaf {
    /// Gabor centre frequencies `[filters]`, radians per sample (`2 pi hz / sample_rate`).
    pub centre: Param<Tensor<1>>,
    /// Gabor time-domain standard deviations `[filters]`, samples.
    pub sigma: Param<Tensor<1>>,
    /// Gaussian pooling widths `[filters]` (fraction of half the pooling window).
    pub pool_width: Param<Tensor<1>>,
    /// sPCEN exponents `alpha` `[filters]`.
    pub alpha: Param<Tensor<1>>,
    /// sPCEN biases `delta` `[filters]`.
    pub delta: Param<Tensor<1>>,
    /// sPCEN roots `r` `[filters]`.
    pub root: Param<Tensor<1>>,
    /// sPCEN EMA smoothing coefficients `[filters]`.
    pub smooth: Param<Tensor<1>>,
    filters: usize,
    kernel_size: usize,
    hop: usize,
    pool_size: usize,
    floor: f64,
}

impl Leaf {
    /// Number of filters (the output's last dimension).
    pub fn filters(&self) -> usize {
        self.filters
    }

    /// Hop between output frames, samples.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// The current complex Gabor kernels `[2 filters, 1, kernel_size]`: channels `0..filters`
    /// real parts, `filters..` imaginary parts (after clamping `mu` and `sigma`).
    pub fn kernels(&self) -> Tensor<3> {
        let device = self.centre.device();
        let f = self.filters;
        let (lo, hi) = gabor_sigma_bounds(self.kernel_size);
        let mu = self
            .centre
            .val()
            .clamp(0.0, std::f64::consts::PI)
            .reshape([f, 1]);
        let sigma = self.sigma.val().clamp(lo, hi).reshape([f, 1]);
        let n = centred_taps(self.kernel_size, &device); // [1, K]
        let norm = sigma
            .clone()
            .mul_scalar((2.0 * std::f64::consts::PI).sqrt())
            .recip();
        let gauss = (n.clone().powi_scalar(2) / sigma.powi_scalar(2).mul_scalar(-2.0)).exp() * norm;
        let phase = mu * n;
        Tensor::cat(
            vec![phase.clone().cos() * gauss.clone(), phase.sin() * gauss],
            0,
        )
        .unsqueeze_dim(1)
    }

    /// The current pooling windows `[filters, 1, pool_size]`.
    pub fn pooling_windows(&self) -> Tensor<3> {
        let device = self.pool_width.device();
        let k = self.pool_size;
        let half = (k as f64 - 1.0) / 2.0;
        let s = self
            .pool_width
            .val()
            .clamp(2.0 / k as f64, 0.5)
            .reshape([self.filters, 1]);
        let n = centred_taps(k, &device); // [1, K], t - (K-1)/2
        let z = n / s.mul_scalar(half.max(f64::MIN_POSITIVE));
        z.powi_scalar(2).mul_scalar(-0.5).exp().unsqueeze_dim(1)
    }

    /// Filtered, pooled, floored energies `[B, filters, T]` (sPCEN's input).
    fn energies(&self, x: Tensor<2>) -> Tensor<3> {
        energies(x, self.kernels(), self.pooling_windows(), self.hop, true).clamp_min(ENERGY_FLOOR)
    }

    /// sPCEN of `e: [B, F, T]`.
    fn pcen(&self, e: Tensor<3>) -> Tensor<3> {
        let f = self.filters;
        let m = ema(e.clone(), self.smooth.val().clamp(0.0, MAX_SMOOTH));
        let col = |p: &Param<Tensor<1>>| p.val().reshape([1, f, 1]);
        let alpha = col(&self.alpha).clamp_max(1.0);
        let delta = col(&self.delta).clamp_min(MIN_DELTA);
        let inv_root = col(&self.root).clamp_min(1.0).recip();
        // (floor + M)^alpha and (.)^(1/r) as exp(ln), both bases positive.
        let smoothed = (m.add_scalar(self.floor).log() * alpha).exp();
        let base = e / smoothed + delta.clone();
        (base.log() * inv_root.clone()).exp() - (delta.log() * inv_root).exp()
    }

    /// LEAF features of a waveform batch.
    ///
    /// # Shapes
    /// - `x`: `[B, N]`, the waveform (any scale; `[-1, 1]` floats as decoded audio).
    /// - output: `[B, T, filters]`, `T = ceil(N / hop)`, frame `t` centred on sample
    ///   `t * hop`; sPCEN-compressed (not a logarithm; with the initial values silence gives
    ///   `(1e-5^0.04 + 2)^0.5 - 2^0.5 = 0.2078`).
    ///
    /// # Errors
    /// [`FilterbankError::Input`] when `B` or `N` is 0.
    pub fn forward(&self, x: Tensor<2>) -> crate::Result<Tensor<3>> {
        check_waveform(&x)?;
        Ok(self.pcen(self.energies(x)).swap_dims(1, 2))
    }
}

/// First-order EMA along the last axis of `x: [B, C, T]` with per-channel coefficients
/// `w: [C]` in `[0, 1)`: `M_t = w x_t + (1 - w) M_{t-1}`, `M_{-1} = x_0` (so `M_0 = x_0`).
///
/// Blocked scan: frames are cut into blocks of `L` = `EMA_BLOCK` (64); inside a block the EMA
/// from a zero state is one batched matrix product with the `[C, L, L]` lower-triangular
/// matrix `w (1 - w)^(j - k)`; the state entering each block is carried by a loop over blocks
/// (`T / L` steps on `[C, B]` tensors) and adds `(1 - w)^(j + 1) state`.
pub fn ema(x: Tensor<3>, w: Tensor<1>) -> Tensor<3> {
    let [batch, channels, frames] = x.dims();
    let device = x.device();
    let l = EMA_BLOCK.min(frames);
    let blocks = frames.div_ceil(l);
    let padded = blocks * l;
    // [C, T, B], zero-padded to whole blocks (the EMA is causal, so the padding is harmless).
    let mut xt = x.clone().permute([1, 2, 0]);
    if padded > frames {
        let zeros = Tensor::<3>::zeros([channels, padded - frames, batch], &device);
        xt = Tensor::cat(vec![xt, zeros], 1);
    }
    // [C, L, blocks B]: column (block, b) holds frames block*L .. block*L + L.
    let xb = xt
        .reshape([channels, blocks, l, batch])
        .swap_dims(1, 2)
        .reshape([channels, l, blocks * batch]);
    let log_keep = w
        .clone()
        .neg()
        .add_scalar(1.0)
        .log()
        .reshape([channels, 1, 1]);
    let mut lag = Vec::with_capacity(l * l);
    let mut lower = Vec::with_capacity(l * l);
    for j in 0..l {
        for k in 0..l {
            lag.push(if j >= k { (j - k) as f32 } else { 0.0 });
            lower.push(if j >= k { 1.0f32 } else { 0.0 });
        }
    }
    let lag = Tensor::<3>::from_data(TensorData::new(lag, [1, l, l]), &device);
    let lower = Tensor::<3>::from_data(TensorData::new(lower, [1, l, l]), &device);
    let weights = (lag * log_keep.clone()).exp() * lower * w.reshape([channels, 1, 1]);
    let intra = weights.matmul(xb).reshape([channels, l, blocks, batch]);
    // (1 - w)^(j + 1), j = 0..L: [C, L, 1, 1].
    let steps: Vec<f32> = (1..=l).map(|j| j as f32).collect();
    let steps = Tensor::<3>::from_data(TensorData::new(steps, [1, l, 1]), &device);
    let decay = (steps * log_keep).exp().reshape([channels, l, 1, 1]);
    let decay_block = decay.clone().narrow(1, l - 1, 1).reshape([channels, 1]);
    let mut state = x.narrow(2, 0, 1).reshape([batch, channels]).swap_dims(0, 1); // [C, B]
    let mut states = Vec::with_capacity(blocks);
    for b in 0..blocks {
        states.push(state.clone());
        if b + 1 < blocks {
            let last = intra
                .clone()
                .narrow(1, l - 1, 1)
                .narrow(2, b, 1)
                .reshape([channels, batch]);
            state = last + decay_block.clone() * state;
        }
    }
    let states = Tensor::stack::<3>(states, 1).reshape([channels, 1, blocks, batch]);
    let m = intra + decay * states; // [C, L, blocks, B]
    m.swap_dims(1, 2)
        .reshape([channels, padded, batch])
        .narrow(1, 0, frames)
        .permute([2, 0, 1])
}
