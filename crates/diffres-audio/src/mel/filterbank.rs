//! The mel filterbank (librosa / torchaudio conventions), the Hann window, and the sparse form
//! the STFT pipeline applies.

use super::config::{LogMelConfig, MelNorm, MelScale};

/// Sparse mel filterbank: for each band, the first FFT bin it touches and its weights.
#[derive(Clone, Debug)]
pub(super) struct SparseFilterbank {
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
    pub(super) fn from_dense(dense: &[Vec<f64>], n_bins: usize) -> Self {
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
    pub(super) fn apply(&self, spec: &[f64], out: &mut [f64]) {
        for (m, o) in out.iter_mut().enumerate() {
            let w = &self.weights[self.offsets[m]..self.offsets[m + 1]];
            let s = &spec[self.first[m]..self.first[m] + w.len()];
            *o = w.iter().zip(s).map(|(a, b)| a * b).sum();
        }
    }

    pub(super) fn to_dense(&self) -> Vec<Vec<f64>> {
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
pub(super) fn reflect_index(i: isize, n: usize) -> usize {
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
