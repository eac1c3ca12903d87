//! The log-mel configuration: scale, filter normalisation, padding, and their checks.

use serde::{Deserialize, Serialize};

use crate::error::{AudioError, Result};

/// Mel frequency scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MelScale {
    /// HTK: `mel = 2595 * log10(1 + f / 700)` (torchaudio default, `librosa htk=True`).
    Htk,
    /// Slaney (Auditory Toolbox): linear below 1 kHz, logarithmic above (librosa default).
    Slaney,
}

/// Normalisation of the mel filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MelNorm {
    /// No normalisation: triangles peak at 1 (torchaudio default).
    None,
    /// Slaney area normalisation: row `m` scaled by `2 / (f[m+2] - f[m])` (librosa default).
    Slaney,
}

/// Padding used at both ends of the signal when `center` is true.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PadMode {
    /// `numpy.pad(mode="reflect")`: mirror without repeating the edge sample
    /// (`y[2], y[1], y[0], y[1], ...`). For signals shorter than the padding the reflection
    /// repeats (period `2 (N - 1)`), exactly as numpy does; a 1-sample signal is repeated.
    Reflect,
    /// Zeros.
    Constant,
}

/// Configuration of the log-mel front end.
///
/// Defaults: 16 kHz, periodic Hann window of 400 samples centred in `n_fft = 512`, hop 160
/// (10 ms), 128 mels from 0 Hz to `sample_rate / 2`, HTK scale, no filter normalisation,
/// `center = true` with reflect padding, power 2, natural log of `mel + 1e-6`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogMelConfig {
    /// Sample rate of the input in Hz.
    pub sample_rate: u32,
    /// Window length in samples (periodic Hann), `1 <= win_length <= n_fft`.
    pub win_length: usize,
    /// FFT size; the window is zero-padded to this length, centred (as librosa does).
    pub n_fft: usize,
    /// Hop between frames in samples; must lie between 1 ms and 40 ms.
    pub hop_length: usize,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Lowest filter edge in Hz.
    pub f_min: f32,
    /// Highest filter edge in Hz; `None` means `sample_rate / 2`.
    pub f_max: Option<f32>,
    /// Mel scale.
    pub mel_scale: MelScale,
    /// Filter normalisation.
    pub norm: MelNorm,
    /// If true, frame `t` is centred on sample `t * hop` and the signal is padded by
    /// `n_fft / 2` on both sides (frame count `1 + floor(N / hop)`).
    pub center: bool,
    /// Padding mode used when `center` is true.
    pub pad_mode: PadMode,
    /// Exponent applied to the magnitude spectrum (2 = power, 1 = magnitude).
    pub power: f32,
    /// Added before the natural log: `ln(mel + log_floor)`.
    pub log_floor: f32,
}

impl Default for LogMelConfig {
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            win_length: 400,
            n_fft: 512,
            hop_length: 160,
            n_mels: 128,
            f_min: 0.0,
            f_max: None,
            mel_scale: MelScale::Htk,
            norm: MelNorm::None,
            center: true,
            pad_mode: PadMode::Reflect,
            power: 2.0,
            log_floor: 1e-6,
        }
    }
}

impl LogMelConfig {
    /// Check every field; returns [`AudioError::InvalidConfig`] naming the bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(AudioError::InvalidConfig(msg));
        if self.sample_rate == 0 {
            return bad("sample_rate must be positive".into());
        }
        if self.n_fft < 2 {
            return bad(format!("n_fft must be at least 2 (got {})", self.n_fft));
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return bad(format!(
                "win_length must be in 1..=n_fft ({}), got {}",
                self.n_fft, self.win_length
            ));
        }
        let sr = self.sample_rate as f64;
        let min_hop = ((sr * 0.001).floor() as usize).max(1);
        let max_hop = (sr * 0.040).ceil() as usize;
        if self.hop_length < min_hop || self.hop_length > max_hop {
            return bad(format!(
                "hop_length {} ({:.3} ms) is outside 1 ms..40 ms ({min_hop}..={max_hop} samples at {} Hz)",
                self.hop_length,
                self.hop_length as f64 * 1000.0 / sr,
                self.sample_rate
            ));
        }
        if self.n_mels == 0 {
            return bad("n_mels must be positive".into());
        }
        let nyq = self.sample_rate as f32 / 2.0;
        if !self.f_min.is_finite() || self.f_min < 0.0 {
            return bad(format!(
                "f_min must be finite and >= 0 (got {})",
                self.f_min
            ));
        }
        let f_max = self.f_max_hz();
        if !f_max.is_finite() || f_max <= self.f_min || f_max > nyq {
            return bad(format!(
                "f_max must satisfy f_min ({}) < f_max <= sample_rate / 2 ({nyq}), got {f_max}",
                self.f_min
            ));
        }
        if !self.power.is_finite() || self.power <= 0.0 {
            return bad(format!("power must be positive (got {})", self.power));
        }
        if !self.log_floor.is_finite() || self.log_floor <= 0.0 {
            return bad(format!(
                "log_floor must be positive (got {})",
                self.log_floor
            ));
        }
        Ok(())
    }

    /// Upper filter edge in Hz (`f_max`, or `sample_rate / 2` when unset).
    pub fn f_max_hz(&self) -> f32 {
        self.f_max.unwrap_or(self.sample_rate as f32 / 2.0)
    }

    /// Hop length in milliseconds.
    pub fn hop_ms(&self) -> f32 {
        self.hop_length as f32 * 1000.0 / self.sample_rate as f32
    }

    /// Log-mel value of silence, `ln(log_floor)`: the pad value for [`LogMelSpec::fit_frames`].
    pub fn silence_value(&self) -> f32 {
        (self.log_floor as f64).ln() as f32
    }

    /// Number of frames produced for `n` input samples:
    /// `1 + floor(n / hop)` with `center`, else `1 + floor((max(n, n_fft) - n_fft) / hop)`.
    pub fn num_frames(&self, n: usize) -> usize {
        if self.center {
            1 + n / self.hop_length
        } else {
            1 + (n.max(self.n_fft) - self.n_fft) / self.hop_length
        }
    }

    /// Set the hop in milliseconds (rounded to the nearest sample, at least 1).
    pub fn with_hop_ms(mut self, ms: f32) -> Self {
        let hop = (ms as f64 * self.sample_rate as f64 / 1000.0).round();
        self.hop_length = if hop.is_finite() && hop >= 1.0 {
            hop as usize
        } else {
            1
        };
        self
    }

    /// Set the hop in samples.
    pub fn with_hop_length(mut self, hop: usize) -> Self {
        self.hop_length = hop;
        self
    }

    /// Set the sample rate (other fields are in samples and are left unchanged).
    pub fn with_sample_rate(mut self, sr: u32) -> Self {
        self.sample_rate = sr;
        self
    }

    /// Set the window length in samples.
    pub fn with_win_length(mut self, win_length: usize) -> Self {
        self.win_length = win_length;
        self
    }

    /// Set the FFT size.
    pub fn with_n_fft(mut self, n_fft: usize) -> Self {
        self.n_fft = n_fft;
        self
    }

    /// Set the number of mel bands.
    pub fn with_n_mels(mut self, n_mels: usize) -> Self {
        self.n_mels = n_mels;
        self
    }

    /// Set the filter band edges in Hz (`f_max = None` means `sample_rate / 2`).
    pub fn with_f_range(mut self, f_min: f32, f_max: Option<f32>) -> Self {
        self.f_min = f_min;
        self.f_max = f_max;
        self
    }

    /// Set the mel scale.
    pub fn with_mel_scale(mut self, scale: MelScale) -> Self {
        self.mel_scale = scale;
        self
    }

    /// Set the filter normalisation.
    pub fn with_norm(mut self, norm: MelNorm) -> Self {
        self.norm = norm;
        self
    }

    /// Set `center` and the padding mode.
    pub fn with_center(mut self, center: bool, pad_mode: PadMode) -> Self {
        self.center = center;
        self.pad_mode = pad_mode;
        self
    }

    /// Set the spectrum exponent.
    pub fn with_power(mut self, power: f32) -> Self {
        self.power = power;
        self
    }

    /// Set the floor added before the log.
    pub fn with_log_floor(mut self, log_floor: f32) -> Self {
        self.log_floor = log_floor;
        self
    }
}
