//! Log-mel spectrogram: configuration, filterbank and the STFT pipeline.
//!
//! The computation follows `librosa.feature.melspectrogram` (and float64 torchaudio
//! `MelSpectrogram`) exactly; see the crate documentation for the recipe and conventions.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
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

/// A spectrogram, row-major `[frames][n_mels]`.
#[derive(Clone, Debug, PartialEq)]
pub struct LogMelSpec {
    /// Number of frames (time steps).
    pub frames: usize,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Values, row-major `[frames][n_mels]`; `data.len() == frames * n_mels`.
    pub data: Vec<f32>,
}

impl LogMelSpec {
    /// The `n_mels` values of frame `i`. Panics if `i >= frames`.
    pub fn frame(&self, i: usize) -> &[f32] {
        &self.data[i * self.n_mels..(i + 1) * self.n_mels]
    }

    /// Pad (with `pad_value`) or crop (keeping the first `n` frames) to exactly `n` frames.
    ///
    /// Returns the new spectrogram and the number of valid (non-padding) frames,
    /// `min(frames, n)`. For log-mel features pass [`LogMelConfig::silence_value`]
    /// (`ln(log_floor)`), i.e. silence.
    pub fn fit_frames(&self, n: usize, pad_value: f32) -> (LogMelSpec, usize) {
        let valid = self.frames.min(n);
        let mut data = Vec::with_capacity(n * self.n_mels);
        data.extend_from_slice(&self.data[..valid * self.n_mels]);
        data.resize(n * self.n_mels, pad_value);
        (
            LogMelSpec {
                frames: n,
                n_mels: self.n_mels,
                data,
            },
            valid,
        )
    }
}

/// Sparse mel filterbank: for each band, the first FFT bin it touches and its weights.
#[derive(Clone, Debug)]
struct SparseFilterbank {
    n_bins: usize,
    first: Vec<usize>,
    offsets: Vec<usize>,
    weights: Vec<f64>,
}

fn hz_to_mel(f: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + f / 700.0).log10(),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            let min_log_hz = 1000.0;
            let min_log_mel = min_log_hz / f_sp;
            let logstep = 6.4f64.ln() / 27.0;
            if f >= min_log_hz {
                min_log_mel + (f / min_log_hz).ln() / logstep
            } else {
                f / f_sp
            }
        }
    }
}

fn mel_to_hz(m: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(m / 2595.0) - 1.0),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            let min_log_hz = 1000.0;
            let min_log_mel = min_log_hz / f_sp;
            let logstep = 6.4f64.ln() / 27.0;
            if m >= min_log_mel {
                min_log_hz * (logstep * (m - min_log_mel)).exp()
            } else {
                f_sp * m
            }
        }
    }
}

/// Dense mel filterbank `[n_mels][n_fft/2 + 1]` built exactly as `librosa.filters.mel`
/// (float64) does.
pub fn mel_filterbank(cfg: &LogMelConfig) -> Vec<Vec<f64>> {
    let n_bins = cfg.n_fft / 2 + 1;
    let sr = cfg.sample_rate as f64;
    // numpy.fft.rfftfreq(n_fft, 1/sr)
    let val = 1.0 / (cfg.n_fft as f64 * (1.0 / sr));
    let fftfreqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * val).collect();
    let edges = mel_band_edges(cfg);
    let fdiff: Vec<f64> = edges.windows(2).map(|w| w[1] - w[0]).collect();
    (0..cfg.n_mels)
        .map(|m| {
            let enorm = match cfg.norm {
                MelNorm::None => 1.0,
                MelNorm::Slaney => 2.0 / (edges[m + 2] - edges[m]),
            };
            fftfreqs
                .iter()
                .map(|&f| {
                    let lower = -(edges[m] - f) / fdiff[m];
                    let upper = (edges[m + 2] - f) / fdiff[m + 1];
                    0f64.max(lower.min(upper)) * enorm
                })
                .collect()
        })
        .collect()
}

/// The `n_mels + 2` band edges in Hz (`librosa.mel_frequencies(n_mels + 2, fmin, fmax, htk)`).
pub fn mel_band_edges(cfg: &LogMelConfig) -> Vec<f64> {
    let n = cfg.n_mels + 2;
    let min_mel = hz_to_mel(cfg.f_min as f64, cfg.mel_scale);
    let max_mel = hz_to_mel(cfg.f_max_hz() as f64, cfg.mel_scale);
    let step = (max_mel - min_mel) / (n - 1) as f64;
    (0..n)
        .map(|i| {
            let m = if i == n - 1 {
                max_mel
            } else {
                i as f64 * step + min_mel
            };
            mel_to_hz(m, cfg.mel_scale)
        })
        .collect()
}

/// Periodic Hann window of length `n`: `0.5 - 0.5 cos(2 pi i / n)`
/// (`scipy.signal.get_window("hann", n, fftbins=True)`, `torch.hann_window(n)`).
pub fn hann_periodic(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect()
}

impl SparseFilterbank {
    fn from_dense(dense: &[Vec<f64>], n_bins: usize) -> Self {
        let mut first = Vec::with_capacity(dense.len());
        let mut offsets = vec![0];
        let mut weights = Vec::new();
        for row in dense {
            let lo = row.iter().position(|&w| w != 0.0);
            match lo {
                Some(lo) => {
                    let hi = row.iter().rposition(|&w| w != 0.0).expect("non-empty") + 1;
                    first.push(lo);
                    weights.extend_from_slice(&row[lo..hi]);
                }
                None => first.push(0),
            }
            offsets.push(weights.len());
        }
        Self {
            n_bins,
            first,
            offsets,
            weights,
        }
    }

    #[inline]
    fn apply(&self, spec: &[f64], out: &mut [f64]) {
        for (m, o) in out.iter_mut().enumerate() {
            let w = &self.weights[self.offsets[m]..self.offsets[m + 1]];
            let s = &spec[self.first[m]..self.first[m] + w.len()];
            *o = w.iter().zip(s).map(|(a, b)| a * b).sum();
        }
    }

    fn to_dense(&self) -> Vec<Vec<f64>> {
        (0..self.first.len())
            .map(|m| {
                let mut row = vec![0.0; self.n_bins];
                let w = &self.weights[self.offsets[m]..self.offsets[m + 1]];
                row[self.first[m]..self.first[m] + w.len()].copy_from_slice(w);
                row
            })
            .collect()
    }
}

/// Numpy `reflect` index for position `i` (may be negative or `>= n`) of a length-`n` signal.
#[inline]
fn reflect_index(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let mut j = i.rem_euclid(period);
    if j >= n as isize {
        j = period - j;
    }
    j as usize
}

/// A log-mel extractor: a validated configuration with its window, FFT plan and sparse
/// filterbank precomputed. Cheap to share between threads (`Sync`); each call allocates its own
/// small work buffers.
#[derive(Clone)]
pub struct LogMel {
    cfg: LogMelConfig,
    window: Vec<f64>,
    win_offset: usize,
    fft: Arc<dyn RealToComplex<f64>>,
    fb: SparseFilterbank,
}

impl std::fmt::Debug for LogMel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMel").field("cfg", &self.cfg).finish()
    }
}

impl LogMel {
    /// Validate `cfg` and precompute window, FFT plan and filterbank.
    pub fn new(cfg: LogMelConfig) -> Result<Self> {
        cfg.validate()?;
        let n_bins = cfg.n_fft / 2 + 1;
        let dense = mel_filterbank(&cfg);
        let fb = SparseFilterbank::from_dense(&dense, n_bins);
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(cfg.n_fft);
        Ok(Self {
            window: hann_periodic(cfg.win_length),
            win_offset: (cfg.n_fft - cfg.win_length) / 2,
            fft,
            fb,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LogMelConfig {
        &self.cfg
    }

    /// The mel filterbank as a dense matrix `[n_mels][n_fft/2 + 1]` (for tests and plots).
    pub fn filterbank_dense(&self) -> Vec<Vec<f64>> {
        self.fb.to_dense()
    }

    /// The `n_fft`-point analysis window: periodic Hann of `win_length` zero-padded, centred.
    pub fn window_padded(&self) -> Vec<f64> {
        let mut w = vec![0.0; self.cfg.n_fft];
        w[self.win_offset..self.win_offset + self.cfg.win_length].copy_from_slice(&self.window);
        w
    }

    /// Build the padded f64 signal that frame `t` reads at `[t * hop, t * hop + n_fft)`.
    fn padded(&self, samples: &[f32]) -> Vec<f64> {
        let n = samples.len();
        let c = &self.cfg;
        if !c.center {
            let mut p: Vec<f64> = samples.iter().map(|&s| s as f64).collect();
            if p.len() < c.n_fft {
                p.resize(c.n_fft, 0.0);
            }
            return p;
        }
        let pad = c.n_fft / 2;
        let mut p = Vec::with_capacity(n + 2 * pad);
        match c.pad_mode {
            PadMode::Constant => {
                p.resize(pad, 0.0);
                p.extend(samples.iter().map(|&s| s as f64));
                p.resize(n + 2 * pad, 0.0);
            }
            PadMode::Reflect => {
                let pad_i = pad as isize;
                p.extend((-pad_i..0).map(|i| samples[reflect_index(i, n)] as f64));
                p.extend(samples.iter().map(|&s| s as f64));
                p.extend(
                    (n as isize..(n + pad) as isize).map(|i| samples[reflect_index(i, n)] as f64),
                );
            }
        }
        p
    }

    /// Check the input and build the padded signal; returns `(frames, padded)`.
    fn prepare(&self, samples: &[f32]) -> Result<(usize, Vec<f64>)> {
        if samples.is_empty() {
            return Err(AudioError::EmptySignal);
        }
        if let Some(index) = crate::decode::first_non_finite(samples) {
            return Err(AudioError::NonFinite { index });
        }
        Ok((self.cfg.num_frames(samples.len()), self.padded(samples)))
    }

    /// Compute frames `t0 .. t0 + n` of the mel spectrogram in f64, calling
    /// `sink(frame_index, mel_values)` per frame.
    fn frames_into(
        &self,
        padded: &[f64],
        t0: usize,
        n: usize,
        mut sink: impl FnMut(usize, &[f64]),
    ) {
        let c = &self.cfg;
        let mut input = self.fft.make_input_vec();
        let mut spec = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut pow = vec![0.0f64; spec.len()];
        let mut mel = vec![0.0f64; c.n_mels];
        let (off, wl) = (self.win_offset, c.win_length);
        let power = c.power as f64;
        for t in t0..t0 + n {
            let src = &padded[t * c.hop_length + off..t * c.hop_length + off + wl];
            input[..off].fill(0.0);
            input[off + wl..].fill(0.0);
            for ((d, &s), &w) in input[off..off + wl].iter_mut().zip(src).zip(&self.window) {
                *d = s * w;
            }
            // Cannot fail: every buffer was made by the plan itself.
            self.fft
                .process_with_scratch(&mut input, &mut spec, &mut scratch)
                .expect("FFT buffers have the planned sizes");
            if power == 2.0 {
                for (p, z) in pow.iter_mut().zip(&spec) {
                    *p = z.re * z.re + z.im * z.im;
                }
            } else if power == 1.0 {
                for (p, z) in pow.iter_mut().zip(&spec) {
                    *p = (z.re * z.re + z.im * z.im).sqrt();
                }
            } else {
                for (p, z) in pow.iter_mut().zip(&spec) {
                    *p = (z.re * z.re + z.im * z.im).powf(power / 2.0);
                }
            }
            self.fb.apply(&pow, &mut mel);
            sink(t, &mel);
        }
    }

    /// Compute the whole mel spectrogram in f64, calling `sink(frame_index, mel_values)`.
    fn compute(&self, samples: &[f32], sink: impl FnMut(usize, &[f64])) -> Result<usize> {
        let (frames, padded) = self.prepare(samples)?;
        self.frames_into(&padded, 0, frames, sink);
        Ok(frames)
    }

    /// Mel spectrogram before the log (`|STFT|^power` through the filterbank), computed in f64
    /// and returned as f32, layout `[frames][n_mels]`.
    ///
    /// Errors: empty input ([`AudioError::EmptySignal`]), NaN/inf ([`AudioError::NonFinite`]).
    pub fn power_mel(&self, samples: &[f32]) -> Result<LogMelSpec> {
        self.power_mel_f64(samples)
            .map(|(frames, data)| LogMelSpec {
                frames,
                n_mels: self.cfg.n_mels,
                data: data.into_iter().map(|x| x as f32).collect(),
            })
    }

    /// As [`LogMel::power_mel`] but returns the f64 values: `(frames, data [frames][n_mels])`.
    pub fn power_mel_f64(&self, samples: &[f32]) -> Result<(usize, Vec<f64>)> {
        let n_mels = self.cfg.n_mels;
        let mut data = vec![0.0f64; self.cfg.num_frames(samples.len()) * n_mels];
        let frames = self.compute(samples, |t, mel| {
            data[t * n_mels..(t + 1) * n_mels].copy_from_slice(mel)
        })?;
        Ok((frames, data))
    }

    /// Log-mel spectrogram `ln(mel + log_floor)` (natural log), layout `[frames][n_mels]`.
    /// `mel + log_floor` is formed in f64 and its log taken in f32 (faster; absolute error
    /// about 5e-7).
    ///
    /// Frame count `1 + floor(N / hop)` with `center` (see [`LogMelConfig::num_frames`]).
    /// Any non-empty input works, even a single sample.
    pub fn log_mel(&self, samples: &[f32]) -> Result<LogMelSpec> {
        let n_mels = self.cfg.n_mels;
        let floor = self.cfg.log_floor as f64;
        let mut data = vec![0.0f32; self.cfg.num_frames(samples.len()) * n_mels];
        let frames = self.compute(samples, |t, mel| {
            for (d, &m) in data[t * n_mels..(t + 1) * n_mels].iter_mut().zip(mel) {
                *d = ((m + floor) as f32).ln();
            }
        })?;
        Ok(LogMelSpec {
            frames,
            n_mels,
            data,
        })
    }

    /// As [`LogMel::log_mel`], but splits the frames of this one signal over the threads of the
    /// current rayon pool (useful for long recordings; for many clips, parallelise over clips
    /// instead, as [`crate::FeatureExtractor::extract_many`] does). Same output, bit for bit.
    pub fn log_mel_par(&self, samples: &[f32]) -> Result<LogMelSpec> {
        use rayon::prelude::*;
        let n_mels = self.cfg.n_mels;
        let floor = self.cfg.log_floor as f64;
        let (frames, padded) = self.prepare(samples)?;
        let threads = rayon::current_num_threads().max(1);
        let chunk = frames.div_ceil(threads * 4).max(32);
        let mut data = vec![0.0f32; frames * n_mels];
        data.par_chunks_mut(chunk * n_mels)
            .enumerate()
            .for_each(|(ci, out)| {
                let t0 = ci * chunk;
                self.frames_into(&padded, t0, out.len() / n_mels, |t, mel| {
                    let row = &mut out[(t - t0) * n_mels..(t - t0 + 1) * n_mels];
                    for (d, &m) in row.iter_mut().zip(mel) {
                        *d = ((m + floor) as f32).ln();
                    }
                });
            });
        Ok(LogMelSpec {
            frames,
            n_mels,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_matches_numpy_for_short_signals() {
        // numpy.pad([a, b, c], 4, mode="reflect") = [b, c, b, a, b, c, b, a, b, c, b]
        let idx: Vec<usize> = (-4..7).map(|i| reflect_index(i, 3)).collect();
        assert_eq!(idx, vec![0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2]);
        assert_eq!(reflect_index(-5, 1), 0);
    }

    #[test]
    fn frame_counts() {
        let lm = LogMel::new(LogMelConfig::default()).unwrap();
        for n in [
            1usize, 2, 100, 159, 160, 161, 255, 256, 257, 400, 512, 1600, 16000,
        ] {
            let s: Vec<f32> = (0..n).map(|i| (i as f32 * 0.1).sin()).collect();
            let spec = lm.log_mel(&s).unwrap();
            assert_eq!(spec.frames, 1 + n / 160, "n = {n}");
            assert_eq!(spec.data.len(), spec.frames * 128);
            assert!(spec.data.iter().all(|v| v.is_finite()));
        }
        assert!(matches!(lm.log_mel(&[]), Err(AudioError::EmptySignal)));
        assert!(matches!(
            lm.log_mel(&[0.0, f32::NAN]),
            Err(AudioError::NonFinite { index: 1 })
        ));
    }

    #[test]
    fn validate_ranges() {
        let c = LogMelConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.clone().with_hop_ms(1.0).hop_length, 16);
        assert!(c.clone().with_hop_ms(1.0).validate().is_ok());
        assert!(c.clone().with_hop_ms(40.0).validate().is_ok());
        assert!(c.clone().with_hop_length(15).validate().is_err());
        assert!(c.clone().with_hop_length(641).validate().is_err());
        assert!(c.clone().with_win_length(600).validate().is_err());
        assert!(c.clone().with_n_mels(0).validate().is_err());
        assert!(c
            .clone()
            .with_f_range(0.0, Some(9000.0))
            .validate()
            .is_err());
        assert!(c
            .clone()
            .with_f_range(100.0, Some(50.0))
            .validate()
            .is_err());
        assert!(c.clone().with_log_floor(0.0).validate().is_err());
        assert!(c.clone().with_power(-1.0).validate().is_err());
        assert!(LogMel::new(c.with_n_fft(1)).is_err());
    }

    #[test]
    fn fit_frames_pads_and_crops() {
        let s = LogMelSpec {
            frames: 3,
            n_mels: 2,
            data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        let (p, v) = s.fit_frames(5, -1.0);
        assert_eq!(v, 3);
        assert_eq!(p.frames, 5);
        assert_eq!(p.frame(4), &[-1.0, -1.0]);
        assert_eq!(p.frame(2), &[5.0, 6.0]);
        let (c, v) = s.fit_frames(2, -1.0);
        assert_eq!((c.frames, v), (2, 2));
        assert_eq!(c.data, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn parallel_equals_serial() {
        let lm = LogMel::new(LogMelConfig::default().with_hop_ms(1.0)).unwrap();
        let s: Vec<f32> = (0..20_000)
            .map(|i| ((i * 7919) % 101) as f32 / 101.0 - 0.5)
            .collect();
        assert_eq!(lm.log_mel(&s).unwrap(), lm.log_mel_par(&s).unwrap());
        assert_eq!(
            lm.log_mel(&s[..3]).unwrap(),
            lm.log_mel_par(&s[..3]).unwrap()
        );
        assert!(lm.log_mel_par(&[]).is_err());
    }

    #[test]
    fn sparse_equals_dense() {
        for scale in [MelScale::Htk, MelScale::Slaney] {
            let cfg = LogMelConfig::default()
                .with_mel_scale(scale)
                .with_n_mels(40);
            let lm = LogMel::new(cfg.clone()).unwrap();
            assert_eq!(lm.filterbank_dense(), mel_filterbank(&cfg));
        }
    }
}
