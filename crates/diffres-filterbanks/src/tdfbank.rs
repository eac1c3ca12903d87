//! Time-domain filterbanks (Zeghidour et al., "Learning filterbanks from raw speech for phone
//! recognition", ICASSP 2018).
//!
//! A complex 1-D convolution (free real and imaginary kernels, initialised as Gabor
//! approximations of a mel filterbank), the squared modulus, a fixed Hann lowpass pooling at
//! stride `hop`, then `ln(x + log_floor)`.

use burn::module::Param;
use burn::prelude::*;

use crate::common::{
    check_config, check_positive, check_waveform, energies, gabor_params, gabor_sigma_bounds,
    hann_tensor, mel_triangles,
};

/// Configuration of [`TdFbank`]. The defaults are the paper's Table 3 setting: 64 filters,
/// 401 taps (25 ms at 16 kHz), 10 ms hop.
#[derive(Config, Debug)]
pub struct TdFbankConfig {
    /// Number of (complex) filters, the output's feature dimension.
    #[config(default = 64)]
    pub filters: usize,
    /// Sample rate of the waveform, Hz.
    #[config(default = 16000)]
    pub sample_rate: usize,
    /// Taps of each complex kernel (odd).
    #[config(default = 401)]
    pub kernel_size: usize,
    /// Hop between output frames, samples.
    #[config(default = 160)]
    pub hop: usize,
    /// Taps of the fixed Hann pooling window (odd).
    #[config(default = 401)]
    pub pool_size: usize,
    /// Lowest mel edge of the initial filterbank, Hz.
    #[config(default = 60.0)]
    pub min_freq: f64,
    /// Highest mel edge of the initial filterbank, Hz.
    #[config(default = 7800.0)]
    pub max_freq: f64,
    /// Offset inside the logarithm: the output is `ln(energy + log_floor)`.
    #[config(default = 1e-6)]
    pub log_floor: f64,
}

impl TdFbankConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`crate::FilterbankError::Config`] naming the first bad field.
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
        check_positive("log_floor", self.log_floor)
    }

    /// The initial complex kernels `[2 filters, kernel_size]` (row-major): rows `0..filters`
    /// are the real parts, rows `filters..` the imaginary parts of Gabor filters
    /// `exp(i mu n) exp(-n^2 / (2 sigma^2)) / (sqrt(2 pi) sigma)`, `n = -(K-1)/2 ..= (K-1)/2`,
    /// with `mu` and `sigma` from [`gabor_params`] (peak amplitude response about 1, as the mel
    /// triangles' peak power 1). `sigma` is clamped to [`gabor_sigma_bounds`].
    pub fn initial_kernels(&self) -> Vec<f32> {
        let k = self.kernel_size;
        let half = (k as i64 - 1) / 2;
        let (lo, hi) = gabor_sigma_bounds(k);
        let tris = mel_triangles(self.filters, self.min_freq, self.max_freq);
        let mut out = vec![0f32; 2 * self.filters * k];
        for (f, tri) in tris.iter().enumerate() {
            let (mu, sigma) = gabor_params(tri, self.sample_rate as f64);
            let sigma = sigma.clamp(lo, hi);
            let norm = 1.0 / ((2.0 * std::f64::consts::PI).sqrt() * sigma);
            for j in 0..k {
                let n = (j as i64 - half) as f64;
                let g = norm * (-n * n / (2.0 * sigma * sigma)).exp();
                out[f * k + j] = (g * (mu * n).cos()) as f32;
                out[(self.filters + f) * k + j] = (g * (mu * n).sin()) as f32;
            }
        }
        out
    }

    /// Builds the front end (`2 filters kernel_size` parameters: 51,328 with the defaults).
    ///
    /// # Errors
    /// See [`TdFbankConfig::validate`].
    pub fn init(&self, device: &Device) -> crate::Result<TdFbank> {
        self.validate()?;
        let shape = [2 * self.filters, 1, self.kernel_size];
        let weight = Tensor::<3>::from_data(TensorData::new(self.initial_kernels(), shape), device);
        Ok(TdFbank {
            weight: Param::from_tensor(weight),
            filters: self.filters,
            hop: self.hop,
            pool_size: self.pool_size,
            log_floor: self.log_floor,
        })
    }
}

/// Time-domain filterbanks: learnable complex kernels, squared modulus, fixed Hann pooling,
/// log compression. Build it with [`TdFbankConfig`].
#[derive(Module, Debug)]
pub struct TdFbank {
    /// The complex kernels `[2 filters, 1, kernel_size]`: channels `0..filters` real parts,
    /// `filters..2 filters` imaginary parts. The only parameters.
    pub weight: Param<Tensor<3>>,
    filters: usize,
    hop: usize,
    pool_size: usize,
    log_floor: f64,
}

impl TdFbank {
    /// Number of filters (the output's last dimension).
    pub fn filters(&self) -> usize {
        self.filters
    }

    /// Hop between output frames, samples.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Filter energies before the logarithm, `[B, filters, T]`.
    fn energies(&self, x: Tensor<2>) -> Tensor<3> {
        let window = hann_tensor(self.pool_size, &x.device());
        energies(x, self.weight.val(), window, self.hop, true)
    }

    /// Log filterbank energies of a waveform batch.
    ///
    /// # Shapes
    /// - `x`: `[B, N]`, the waveform (any scale; `[-1, 1]` floats as decoded audio).
    /// - output: `[B, T, filters]`, `T = ceil(N / hop)`, frame `t` centred on sample
    ///   `t * hop`, value `ln(energy + log_floor)`.
    ///
    /// # Errors
    /// [`crate::FilterbankError::Input`] when `B` or `N` is 0.
    pub fn forward(&self, x: Tensor<2>) -> crate::Result<Tensor<3>> {
        check_waveform(&x)?;
        Ok(self
            .energies(x)
            .add_scalar(self.log_floor)
            .log()
            .swap_dims(1, 2))
    }
}
