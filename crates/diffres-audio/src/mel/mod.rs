//! Log-mel spectrogram: configuration, filterbank and the STFT pipeline.
//!
//! The computation follows `librosa.feature.melspectrogram` (and float64 torchaudio
//! `MelSpectrogram`) exactly; see the crate documentation for the recipe and conventions.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use crate::error::{AudioError, Result};

mod config;
mod filterbank;
mod spec;

pub use config::{LogMelConfig, MelNorm, MelScale, PadMode};
pub use filterbank::{hann_periodic, mel_band_edges, mel_filterbank};
pub use spec::LogMelSpec;

use filterbank::{reflect_index, SparseFilterbank};

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

    /// Three frames of two mel bins: 1, 2 | 3, 4 | 5, 6.
    fn three_frames() -> LogMelSpec {
        LogMelSpec {
            frames: 3,
            n_mels: 2,
            data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    }

    #[test]
    fn fit_frames_pads_and_crops() {
        let s = three_frames();
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
    fn into_fitted_equals_fit_frames() {
        let s = three_frames();
        for n in [0, 1, 2, 3, 4, 7] {
            let want = s.fit_frames(n, -1.0);
            let got = s.clone().into_fitted(n, -1.0);
            assert_eq!(got, want, "n = {n}");
            assert_eq!(got.0.data.len(), n * 2);
        }
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
