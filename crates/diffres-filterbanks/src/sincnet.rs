//! SincNet (Ravanelli & Bengio, "Speaker recognition from raw waveform with SincNet", SLT 2018).
//!
//! Band-pass filters, each a Hamming-windowed difference of two sincs with two learnable
//! numbers (low cut-off and band width), then, as the paper's Table 3 front end, the squared
//! output, a fixed Hann lowpass pooling at stride `hop` and `ln(x + log_floor)`.
//!
//! Cut-offs as in Ravanelli's `SincConv_fast`: `low = min_low_hz + |low_hz|`,
//! `high = clamp(low + min_band_hz + |band_hz|, min_low_hz, sample_rate / 2)`. The kernel is
//! `h[n] = w[n] (sin(2 pi high n / sr) - sin(2 pi low n / sr)) / (pi n)`, `h[0] = w[0] 2 (high -
//! low) / sr`, `w` the symmetric Hamming window: unit pass-band gain (Ravanelli divides by
//! `2 (high - low)` instead, a per-filter constant that the log turns into an offset).

use burn::module::Param;
use burn::prelude::*;

use crate::common::{
    centred_taps, check_config, check_positive, check_waveform, energies, hann_tensor, mel_points,
};
use crate::error::FilterbankError;

/// Configuration of [`SincNet`]. The defaults are the paper's Table 3 setting: 128 filters,
/// 401 taps (25 ms at 16 kHz), 10 ms hop.
#[derive(Config, Debug)]
pub struct SincNetConfig {
    /// Number of band-pass filters, the output's feature dimension.
    #[config(default = 128)]
    pub filters: usize,
    /// Sample rate of the waveform, Hz.
    #[config(default = 16000)]
    pub sample_rate: usize,
    /// Taps of each sinc kernel (odd; Ravanelli uses 251, LEAF's SincNet 401).
    #[config(default = 401)]
    pub kernel_size: usize,
    /// Hop between output frames, samples.
    #[config(default = 160)]
    pub hop: usize,
    /// Taps of the fixed Hann pooling window (odd).
    #[config(default = 401)]
    pub pool_size: usize,
    /// Lowest band edge of the initial (mel-spaced) bands, Hz; must exceed `min_low_hz`.
    #[config(default = 60.0)]
    pub min_freq: f64,
    /// Highest band edge of the initial bands, Hz.
    #[config(default = 7800.0)]
    pub max_freq: f64,
    /// Floor of every low cut-off, Hz (Ravanelli: 50).
    #[config(default = 50.0)]
    pub min_low_hz: f64,
    /// Floor of every band width, Hz; must be below the narrowest initial mel band (14.5 Hz
    /// with the defaults), so lower than Ravanelli's 50 Hz at 128 filters.
    #[config(default = 10.0)]
    pub min_band_hz: f64,
    /// Offset inside the logarithm: the output is `ln(energy + log_floor)`.
    #[config(default = 1e-6)]
    pub log_floor: f64,
}

impl SincNetConfig {
    /// The initial band edges: `filters + 1` mel-spaced frequencies from `min_freq` to
    /// `max_freq`; band `i` is `[edges[i], edges[i + 1]]`.
    pub fn initial_edges(&self) -> Vec<f64> {
        mel_points(self.filters + 1, self.min_freq, self.max_freq)
    }

    /// Checks every field, including that the parametrisation can represent the mel bands
    /// with non-zero raw parameters (so `|.|` has a gradient).
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
        check_positive("log_floor", self.log_floor)?;
        if !(self.min_low_hz.is_finite()
            && self.min_low_hz >= 0.0
            && self.min_low_hz < self.min_freq)
        {
            return Err(FilterbankError::config(
                "min_low_hz",
                format!(
                    "must be in [0, min_freq = {}) Hz (got {})",
                    self.min_freq, self.min_low_hz
                ),
            ));
        }
        let edges = self.initial_edges();
        let narrowest = edges
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(f64::INFINITY, f64::min);
        if !(self.min_band_hz.is_finite()
            && self.min_band_hz >= 0.0
            && self.min_band_hz < narrowest)
        {
            return Err(FilterbankError::config(
                "min_band_hz",
                format!(
                    "must be in [0, {narrowest:.3}) Hz, the narrowest initial mel band (got {})",
                    self.min_band_hz
                ),
            ));
        }
        Ok(())
    }

    /// Builds the front end (`2 filters` parameters: 256 with the defaults).
    ///
    /// # Errors
    /// See [`SincNetConfig::validate`].
    pub fn init(&self, device: &Device) -> crate::Result<SincNet> {
        self.validate()?;
        let edges = self.initial_edges();
        let f = self.filters;
        let low: Vec<f32> = (0..f)
            .map(|i| (edges[i] - self.min_low_hz) as f32)
            .collect();
        let band: Vec<f32> = (0..f)
            .map(|i| (edges[i + 1] - edges[i] - self.min_band_hz) as f32)
            .collect();
        let param = |v: Vec<f32>| {
            Param::from_tensor(Tensor::<2>::from_data(TensorData::new(v, [f, 1]), device))
        };
        Ok(SincNet {
            low_hz: param(low),
            band_hz: param(band),
            filters: f,
            sample_rate: self.sample_rate,
            kernel_size: self.kernel_size,
            hop: self.hop,
            pool_size: self.pool_size,
            min_low_hz: self.min_low_hz,
            min_band_hz: self.min_band_hz,
            log_floor: self.log_floor,
        })
    }
}

/// SincNet band-pass filters, squared, Hann-pooled, log-compressed. Build it with
/// [`SincNetConfig`].
#[derive(Module, Debug)]
pub struct SincNet {
    /// Raw low cut-offs `[filters, 1]`, Hz: the low cut-off is `min_low_hz + |low_hz|`.
    pub low_hz: Param<Tensor<2>>,
    /// Raw band widths `[filters, 1]`, Hz: the high cut-off is
    /// `clamp(low + min_band_hz + |band_hz|, min_low_hz, sample_rate / 2)`.
    pub band_hz: Param<Tensor<2>>,
    filters: usize,
    sample_rate: usize,
    kernel_size: usize,
    hop: usize,
    pool_size: usize,
    min_low_hz: f64,
    min_band_hz: f64,
    log_floor: f64,
}

impl SincNet {
    /// Number of filters (the output's last dimension).
    pub fn filters(&self) -> usize {
        self.filters
    }

    /// Hop between output frames, samples.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// The current cut-offs `(low, high)`, each `[filters, 1]`, Hz.
    pub fn cutoffs(&self) -> (Tensor<2>, Tensor<2>) {
        let low = self.low_hz.val().abs().add_scalar(self.min_low_hz);
        let high = (low.clone() + self.band_hz.val().abs())
            .add_scalar(self.min_band_hz)
            .clamp(self.min_low_hz, self.sample_rate as f64 / 2.0);
        (low, high)
    }

    /// The current kernels `[filters, 1, kernel_size]` (see the module docs for the formula).
    pub fn kernels(&self) -> Tensor<3> {
        let device = self.low_hz.device();
        let k = self.kernel_size;
        let sr = self.sample_rate as f64;
        let (low, high) = self.cutoffs();
        let n = centred_taps(k, &device); // [1, K]
        let half = (k - 1) / 2;
        // `pi n` with the centre tap replaced by 1 (its value is set separately).
        let mut denom: Vec<f32> = (0..k)
            .map(|j| std::f32::consts::PI * (j as f32 - half as f32))
            .collect();
        denom[half] = 1.0;
        let mut centre = vec![0f32; k];
        centre[half] = 1.0;
        let denom = Tensor::<2>::from_data(TensorData::new(denom, [1, k]), &device);
        let centre = Tensor::<2>::from_data(TensorData::new(centre, [1, k]), &device);
        let omega = 2.0 * std::f64::consts::PI / sr;
        let side = ((high.clone().mul_scalar(omega) * n.clone()).sin()
            - (low.clone().mul_scalar(omega) * n).sin())
            / denom; // [F, K]
        let middle = (high - low).mul_scalar(2.0 / sr); // [F, 1]
        let band = side * (centre.clone().neg().add_scalar(1.0)) + middle * centre;
        let window: Vec<f32> = (0..k)
            .map(|j| {
                (0.54 - 0.46 * (2.0 * std::f64::consts::PI * j as f64 / (k - 1) as f64).cos())
                    as f32
            })
            .collect();
        let window = Tensor::<2>::from_data(TensorData::new(window, [1, k]), &device);
        (band * window).unsqueeze_dim(1)
    }

    /// Log band energies of a waveform batch.
    ///
    /// # Shapes
    /// - `x`: `[B, N]`, the waveform (any scale; `[-1, 1]` floats as decoded audio).
    /// - output: `[B, T, filters]`, `T = ceil(N / hop)`, frame `t` centred on sample
    ///   `t * hop`, value `ln(energy + log_floor)`.
    ///
    /// # Errors
    /// [`FilterbankError::Input`] when `B` or `N` is 0.
    pub fn forward(&self, x: Tensor<2>) -> crate::Result<Tensor<3>> {
        check_waveform(&x)?;
        let device = x.device();
        let window = hann_tensor(self.pool_size, &device);
        let pooled = energies(x, self.kernels(), window, self.hop, false);
        Ok(pooled.add_scalar(self.log_floor).log().swap_dims(1, 2))
    }
}
