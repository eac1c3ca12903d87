//! Kaldi-compatible log mel filterbanks ("fbank"), the input features of PSLA, AST and the
//! authors' DiffRes recipes.
//!
//! [`KaldiFbank`] computes what PSLA's data loader computes,
//!
//! ```text
//! w = w - w.mean()
//! torchaudio.compliance.kaldi.fbank(w, htk_compat=True, sample_frequency=16000, use_energy=False,
//!                                   window_type='hanning', num_mel_bins=M, dither=0.0, frame_shift=10)
//! ```
//!
//! with Kaldi's conventions, which differ from librosa's ([`crate::LogMel`]) in every step:
//! - frames are not centred ("snip edges"): frame `t` reads samples `[t * hop, t * hop + win)`,
//!   and there are `1 + (N - win) / hop` of them (98 for 1 s at 16 kHz, 25 ms, 10 ms);
//! - each frame has its own mean removed (DC offset), then is pre-emphasised
//!   (`x[i] - 0.97 x[i - 1]`, the first sample against itself);
//! - the window is Kaldi's "hanning", the symmetric Hann window `0.5 - 0.5 cos(2 pi i / (win - 1))`;
//! - the FFT size is the next power of two of the window (512 for 400 samples);
//! - the filterbank is Kaldi's: triangles in mel space on the mel scale `1127 ln(1 + f / 700)`,
//!   from 20 Hz to the Nyquist frequency, peaking at 1, unnormalised;
//! - the output is `ln(max(energy, eps))` with `eps` the `f32` machine epsilon (torchaudio's
//!   floor even in `float64`), so an empty band reads `ln(1.19e-7) = -15.94`.
//!
//! One deviation: a clip shorter than one window, for which Kaldi gives no frame at all, is
//! zero-padded to one window (one frame), so that every readable clip has features.
//!
//! Everything is computed in `f64`; [`KaldiFbank::log_fbank`] rounds the result to `f32`.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use crate::error::{AudioError, Result};
use crate::kaldi_torch_ln::TORCH_LN_F32_EXCEPTIONS;
use crate::mel::{LogMelConfig, LogMelSpec};

/// Kaldi's pre-emphasis coefficient (its and torchaudio's default).
pub const KALDI_PREEMPHASIS: f64 = 0.97;
/// Lowest filter edge of Kaldi's filterbank by default, in Hz.
pub const KALDI_LOW_FREQ: f32 = 20.0;
/// The floor under the energies before the log: the `f32` machine epsilon, as torchaudio uses.
pub const KALDI_ENERGY_FLOOR: f64 = f32::EPSILON as f64;

/// Configuration of [`KaldiFbank`]. The default is PSLA's: 16 kHz, 25 ms window, 10 ms shift,
/// 128 bins from 20 Hz to Nyquist, pre-emphasis 0.97, DC offset and waveform mean removed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KaldiFbankConfig {
    /// Sample rate of the input in Hz.
    pub sample_rate: u32,
    /// Number of mel bins.
    pub n_mels: usize,
    /// Window (frame) length in samples (25 ms = 400 at 16 kHz).
    pub win_length: usize,
    /// Shift between frames in samples (10 ms = 160 at 16 kHz).
    pub hop_length: usize,
    /// Lowest filter edge in Hz.
    pub low_freq: f32,
    /// Highest filter edge in Hz; `None` means `sample_rate / 2`.
    pub high_freq: Option<f32>,
    /// Pre-emphasis coefficient (0 disables it).
    pub preemphasis: f64,
    /// Subtract the whole waveform's mean first, as PSLA's loader does.
    pub remove_waveform_mean: bool,
}

impl Default for KaldiFbankConfig {
    fn default() -> Self {
        Self::from_log_mel(&LogMelConfig::default())
    }
}

impl KaldiFbankConfig {
    /// The Kaldi filterbank with a log-mel configuration's sample rate, bins, window, hop and
    /// upper band edge (so `--mels` and `--hop-ms` mean the same for both kinds of features);
    /// everything else is Kaldi's default (the lower edge is Kaldi's 20 Hz).
    pub fn from_log_mel(cfg: &LogMelConfig) -> Self {
        Self {
            sample_rate: cfg.sample_rate,
            n_mels: cfg.n_mels,
            win_length: cfg.win_length,
            hop_length: cfg.hop_length,
            low_freq: KALDI_LOW_FREQ,
            high_freq: cfg.f_max,
            preemphasis: KALDI_PREEMPHASIS,
            remove_waveform_mean: true,
        }
    }

    /// FFT size: the next power of two of the window.
    pub fn n_fft(&self) -> usize {
        self.win_length.next_power_of_two()
    }

    /// Upper filter edge in Hz.
    pub fn high_freq_hz(&self) -> f32 {
        self.high_freq.unwrap_or(self.sample_rate as f32 / 2.0)
    }

    /// Frames for `n` samples: `1 + (max(n, win) - win) / hop` (a short clip gets one frame).
    pub fn num_frames(&self, n: usize) -> usize {
        1 + (n.max(self.win_length) - self.win_length) / self.hop_length
    }

    /// Checks every field; [`AudioError::InvalidConfig`] names the bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(AudioError::InvalidConfig(msg));
        if self.sample_rate == 0 || self.n_mels == 0 {
            return bad("Kaldi fbank: sample_rate and n_mels must be positive".into());
        }
        if self.win_length < 2 || self.hop_length == 0 {
            return bad(format!(
                "Kaldi fbank: window {} and shift {} samples must be at least 2 and 1",
                self.win_length, self.hop_length
            ));
        }
        let nyquist = self.sample_rate as f32 / 2.0;
        let high = self.high_freq_hz();
        if !(self.low_freq.is_finite() && self.low_freq >= 0.0 && high > self.low_freq)
            || high > nyquist
        {
            return bad(format!(
                "Kaldi fbank: band edges must satisfy 0 <= low ({}) < high ({high}) <= {nyquist} Hz",
                self.low_freq
            ));
        }
        if !(0.0..=1.0).contains(&self.preemphasis) {
            return bad(format!(
                "Kaldi fbank: pre-emphasis {} is not in [0, 1]",
                self.preemphasis
            ));
        }
        Ok(())
    }
}

/// Kaldi's mel scale, `1127 ln(1 + f / 700)`.
fn kaldi_mel(f: f64) -> f64 {
    1127.0 * (1.0 + f / 700.0).ln()
}

/// Kaldi's filterbank `[n_mels][n_fft / 2 + 1]` (the Nyquist bin has weight 0), as
/// torchaudio's `get_mel_banks` builds it: in `f32` arithmetic (its tensors have the default
/// dtype whatever the waveform's), from band edges spaced in `f64`, with FFT-bin mel values
/// from [`kaldi_mel_f32`]. The narrow low bands hold one or two FFT bins, whose weights'
/// `f32` rounding shows in the log energies at 1e-5: the same arithmetic gives the same
/// weights, bit for bit, for every sample rate and FFT size [`kaldi_mel_f32`] knows.
pub fn kaldi_filterbank(cfg: &KaldiFbankConfig) -> Vec<Vec<f64>> {
    let n_fft = cfg.n_fft();
    let bin_width = (cfg.sample_rate as f64 / n_fft as f64) as f32;
    let low = kaldi_mel(cfg.low_freq as f64);
    let high = kaldi_mel(cfg.high_freq_hz() as f64);
    let delta = ((high - low) / (cfg.n_mels + 1) as f64) as f32;
    let low = low as f32;
    let mel = |k: usize| kaldi_mel_f32(bin_width * k as f32);
    (0..cfg.n_mels)
        .map(|m| {
            let left = low + m as f32 * delta;
            let center = low + (m as f32 + 1.0) * delta;
            let right = low + (m as f32 + 2.0) * delta;
            (0..=n_fft / 2)
                .map(|k| {
                    if k == n_fft / 2 {
                        return 0.0;
                    }
                    let up = (mel(k) - left) / (center - left);
                    let down = (right - mel(k)) / (right - center);
                    up.min(down).max(0.0) as f64
                })
                .collect()
        })
        .collect()
}

/// Kaldi's mel scale in `f32`, `1127 ln(1 + f / 700)`, as torchaudio applies it to a
/// tensor: each operation rounded to `f32`, and the logarithm PyTorch's. PyTorch's CPU
/// logarithm (MKL's vector `ln` on x86 builds) is accurate to one unit in the last place but
/// not correctly rounded. Where it differs from the correctly rounded logarithm on an FFT bin
/// of a sample rate in {8, 11.025, 16, 22.05, 24, 32, 44.1, 48} kHz with an FFT size from 128 to
/// 8192, a table recorded from PyTorch (`tools/gen_torch_ln_table.py`) supplies its value, so
/// these configurations reproduce torchaudio's filterbank exactly; elsewhere the logarithm is
/// the correctly rounded one (computed in `f64`), at most one unit away from PyTorch's.
pub fn kaldi_mel_f32(f: f32) -> f32 {
    1127.0f32 * torch_ln_f32(1.0f32 + f / 700.0f32)
}

/// PyTorch's `f32` natural logarithm on the filterbank's arguments (see [`kaldi_mel_f32`]).
fn torch_ln_f32(x: f32) -> f32 {
    match TORCH_LN_F32_EXCEPTIONS.binary_search_by_key(&x.to_bits(), |&(arg, _)| arg) {
        Ok(i) => f32::from_bits(TORCH_LN_F32_EXCEPTIONS[i].1),
        Err(_) => (x as f64).ln() as f32,
    }
}

/// Kaldi's "hanning" window: `0.5 - 0.5 cos(2 pi i / (n - 1))` (symmetric).
pub fn hann_symmetric(n: usize) -> Vec<f64> {
    let denom = (n.max(2) - 1) as f64;
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / denom).cos())
        .collect()
}

/// A Kaldi-compatible filterbank extractor: a validated configuration with its window, FFT
/// plan and filterbank precomputed; shareable between threads.
#[derive(Clone)]
pub struct KaldiFbank {
    cfg: KaldiFbankConfig,
    window: Vec<f64>,
    fft: Arc<dyn RealToComplex<f64>>,
    /// Per band: the first FFT bin with a non-zero weight and the weights from there.
    bands: Vec<(usize, Vec<f64>)>,
}

impl std::fmt::Debug for KaldiFbank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KaldiFbank")
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl KaldiFbank {
    /// Validates `cfg` and precomputes window, FFT plan and filterbank.
    ///
    /// # Errors
    /// [`AudioError::InvalidConfig`] for an invalid configuration.
    pub fn new(cfg: KaldiFbankConfig) -> Result<Self> {
        cfg.validate()?;
        let bands = kaldi_filterbank(&cfg)
            .into_iter()
            .map(|row| match row.iter().position(|&w| w != 0.0) {
                Some(lo) => {
                    let hi = row.iter().rposition(|&w| w != 0.0).expect("non-empty") + 1;
                    (lo, row[lo..hi].to_vec())
                }
                None => (0, Vec::new()),
            })
            .collect();
        Ok(Self {
            window: hann_symmetric(cfg.win_length),
            fft: RealFftPlanner::<f64>::new().plan_fft_forward(cfg.n_fft()),
            bands,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &KaldiFbankConfig {
        &self.cfg
    }

    /// Log filterbank energies of `samples` in `f64`: `(frames, data [frames][n_mels])`.
    ///
    /// # Errors
    /// Empty input ([`AudioError::EmptySignal`]), NaN or infinity ([`AudioError::NonFinite`]).
    pub fn log_fbank_f64(&self, samples: &[f64]) -> Result<(usize, Vec<f64>)> {
        if samples.is_empty() {
            return Err(AudioError::EmptySignal);
        }
        if let Some(index) = samples.iter().position(|s| !s.is_finite()) {
            return Err(AudioError::NonFinite { index });
        }
        let c = &self.cfg;
        let mean = if c.remove_waveform_mean {
            samples.iter().sum::<f64>() / samples.len() as f64
        } else {
            0.0
        };
        let mut signal: Vec<f64> = samples.iter().map(|&s| s - mean).collect();
        if signal.len() < c.win_length {
            signal.resize(c.win_length, 0.0);
        }
        let frames = c.num_frames(signal.len());
        let n_mels = c.n_mels;
        let mut out = vec![0.0f64; frames * n_mels];
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f64; spectrum.len()];
        let win = c.win_length;
        for t in 0..frames {
            let frame = &mut input[..win];
            frame.copy_from_slice(&signal[t * c.hop_length..t * c.hop_length + win]);
            let dc = frame.iter().sum::<f64>() / win as f64;
            frame.iter_mut().for_each(|x| *x -= dc);
            // Backwards, so that each sample is emphasised against its original predecessor.
            for i in (1..win).rev() {
                frame[i] -= c.preemphasis * frame[i - 1];
            }
            frame[0] -= c.preemphasis * frame[0];
            frame
                .iter_mut()
                .zip(&self.window)
                .for_each(|(x, w)| *x *= w);
            input[win..].fill(0.0);
            // Cannot fail: every buffer was made by the plan itself.
            self.fft
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .expect("FFT buffers have the planned sizes");
            for (p, z) in power.iter_mut().zip(&spectrum) {
                *p = z.re * z.re + z.im * z.im;
            }
            let row = &mut out[t * n_mels..(t + 1) * n_mels];
            for (o, (first, weights)) in row.iter_mut().zip(&self.bands) {
                let energy: f64 = weights
                    .iter()
                    .zip(&power[*first..])
                    .map(|(w, p)| w * p)
                    .sum();
                *o = energy.max(KALDI_ENERGY_FLOOR).ln();
            }
        }
        Ok((frames, out))
    }

    /// Log filterbank energies `[frames][n_mels]`, computed in `f64` and rounded to `f32`.
    ///
    /// # Errors
    /// As [`KaldiFbank::log_fbank_f64`].
    pub fn log_fbank(&self, samples: &[f32]) -> Result<LogMelSpec> {
        let wide: Vec<f64> = samples.iter().map(|&s| s as f64).collect();
        let (frames, data) = self.log_fbank_f64(&wide)?;
        Ok(LogMelSpec {
            frames,
            n_mels: self.cfg.n_mels,
            data: data.into_iter().map(|v| v as f32).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_counts_follow_snip_edges() {
        let fb = KaldiFbank::new(KaldiFbankConfig::default()).unwrap();
        for (n, frames) in [(16_000, 98), (400, 1), (559, 1), (560, 2), (1, 1), (399, 1)] {
            let s: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let spec = fb.log_fbank(&s).unwrap();
            assert_eq!(spec.frames, frames, "{n} samples");
            assert!(spec.data.iter().all(|v| v.is_finite()));
        }
        assert!(matches!(fb.log_fbank(&[]), Err(AudioError::EmptySignal)));
        assert!(matches!(
            fb.log_fbank(&[0.0, f32::INFINITY]),
            Err(AudioError::NonFinite { index: 1 })
        ));
    }

    #[test]
    fn silence_is_the_floor_and_a_constant_is_silence() {
        // The waveform mean and each frame's DC offset are removed: a constant is silence.
        let fb = KaldiFbank::new(KaldiFbankConfig::default()).unwrap();
        let spec = fb.log_fbank(&[0.25; 1000]).unwrap();
        let floor = (f32::EPSILON as f64).ln() as f32;
        assert!(
            spec.data.iter().all(|&v| v == floor),
            "{:?}",
            &spec.data[..4]
        );
    }

    #[test]
    fn windows_and_bands_have_known_values() {
        let w = hann_symmetric(5);
        for (got, want) in w.iter().zip([0.0, 0.5, 1.0, 0.5, 0.0]) {
            assert!((got - want).abs() < 1e-15);
        }
        let cfg = KaldiFbankConfig {
            n_mels: 23,
            ..Default::default()
        };
        let bank = kaldi_filterbank(&cfg);
        assert_eq!((bank.len(), bank[0].len()), (23, 257));
        // Triangles peak below 1, are zero at the Nyquist bin and overlap in pairs.
        assert!(bank
            .iter()
            .all(|r| r.iter().all(|&v| (0.0..=1.0).contains(&v))));
        assert!(bank.iter().all(|r| r[256] == 0.0));
        // Band 22's right edge is the Nyquist frequency: bin 255 (7968.75 Hz) lies inside.
        assert!(bank[22][255] > 0.0);
        assert!(KaldiFbank::new(KaldiFbankConfig {
            high_freq: Some(9000.0),
            ..cfg
        })
        .is_err());
    }

    #[test]
    fn torch_logarithm_table_is_sorted_and_one_unit_from_correct_rounding() {
        let table = &TORCH_LN_F32_EXCEPTIONS;
        assert!(table.windows(2).all(|p| p[0].0 < p[1].0));
        for &(x, ln) in table {
            let x = f32::from_bits(x);
            let correct = (x as f64).ln() as f32;
            let units = (correct.to_bits() as i64 - ln as i64).abs();
            assert_eq!(units, 1, "ln({x}): PyTorch {}", f32::from_bits(ln));
            assert_eq!(torch_ln_f32(x).to_bits(), ln);
        }
        // Off the table: the correctly rounded logarithm. 16 kHz, 512-point FFT, bin 8 is
        // on it (PyTorch rounds ln(1.35714293) down), bin 7 is not.
        let arg = |k: f32| 1.0f32 + 31.25f32 * k / 700.0f32;
        assert_eq!(torch_ln_f32(arg(7.0)), (arg(7.0) as f64).ln() as f32);
        assert_ne!(torch_ln_f32(arg(8.0)), (arg(8.0) as f64).ln() as f32);
    }
}
