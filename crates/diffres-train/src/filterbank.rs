//! Which filterbank turns the audio into the rows the temporal front end sees
//! (`--filterbank`): the fixed log-mel of `diffres-audio`, or one of the learnable waveform
//! front ends of `diffres-filterbanks` (the paper's Table 3), trained with the model.
//!
//! A learnable filterbank reads the waveform (the feature cache then stores waveforms,
//! [`diffres_audio::FeatureKind::Waveform`]) and outputs `[B, T, filters]` at the run's hop,
//! the contract of a log-mel batch, so any temporal front end (`--frontend`) follows it:
//! LEAF + DiffRes is `--filterbank leaf --frontend diffres`. Its frames are
//! `T = ceil(samples / hop)` (a centred log-mel has `1 + floor(samples / hop)`).

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use diffres_filterbanks::{Leaf, LeafConfig, SincNet, SincNetConfig, TdFbank, TdFbankConfig};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// The filterbank of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterbankKind {
    /// The fixed log-mel spectrogram (or Kaldi filterbank, `--features kaldi`).
    #[default]
    Mel,
    /// Time-domain filterbanks (Zeghidour et al. 2018).
    TdFbank,
    /// SincNet (Ravanelli & Bengio 2018).
    SincNet,
    /// LEAF (Zeghidour et al. 2021).
    Leaf,
}

impl FilterbankKind {
    /// Every filterbank, the fixed one first.
    pub const ALL: [FilterbankKind; 4] = [
        FilterbankKind::Mel,
        FilterbankKind::TdFbank,
        FilterbankKind::SincNet,
        FilterbankKind::Leaf,
    ];

    /// The name used on the command line and in `config.json`.
    pub fn name(self) -> &'static str {
        match self {
            FilterbankKind::Mel => "mel",
            FilterbankKind::TdFbank => "tdfbank",
            FilterbankKind::SincNet => "sincnet",
            FilterbankKind::Leaf => "leaf",
        }
    }

    /// The name the paper's Table 3 gives the column.
    pub fn label(self) -> &'static str {
        match self {
            FilterbankKind::Mel => "Mel",
            FilterbankKind::TdFbank => "TD-fbanks",
            FilterbankKind::SincNet => "SincNet",
            FilterbankKind::Leaf => "LEAF",
        }
    }

    /// Whether it is learned from the waveform (everything but `mel`).
    pub fn is_learned(self) -> bool {
        self != FilterbankKind::Mel
    }
}

impl fmt::Display for FilterbankKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FilterbankKind {
    type Err = TrainError;

    /// `mel`, `tdfbank` (`td-fbank`), `sincnet` (`sinc`) or `leaf`, case-insensitive.
    fn from_str(s: &str) -> Result<Self> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_'], "")
            .as_str()
        {
            "mel" | "logmel" => Ok(FilterbankKind::Mel),
            "tdfbank" | "tdfbanks" => Ok(FilterbankKind::TdFbank),
            "sincnet" | "sinc" => Ok(FilterbankKind::SincNet),
            "leaf" => Ok(FilterbankKind::Leaf),
            _ => Err(TrainError::Config(format!(
                "--filterbank '{s}': expected mel, tdfbank, sincnet or leaf"
            ))),
        }
    }
}

/// The geometry of a learnable filterbank at a sample rate and hop: the Table 3 setting
/// (25 ms kernels and pooling windows, mel initialisation from 60 Hz to 7.8 kHz) scaled to
/// the sample rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterbankGeometry {
    /// Filters (`--mels`).
    pub filters: usize,
    /// Waveform sample rate, Hz.
    pub sample_rate: usize,
    /// Hop between output frames, samples.
    pub hop: usize,
    /// Taps of each kernel and of the pooling window (odd: 401 at 16 kHz).
    pub taps: usize,
    /// Highest edge of the initial mel filterbank, Hz (7,800 at 16 kHz).
    pub max_freq: f64,
}

impl FilterbankGeometry {
    /// The geometry for `filters` filters at `sample_rate` Hz and a hop of `hop_ms`.
    pub fn new(filters: usize, sample_rate: u32, hop_ms: f32) -> Self {
        let sr = sample_rate as f64;
        let taps = ((0.025 * sr).round() as usize) | 1;
        Self {
            filters,
            sample_rate: sample_rate as usize,
            hop: ((sr * hop_ms as f64 / 1000.0).round() as usize).max(1),
            taps,
            max_freq: (7800.0 / 16000.0 * sr).min(sr / 2.0),
        }
    }
}

/// A learnable filterbank, trained with the rest of the model.
// One per model, built once: the size of its largest variant (LEAF's seven parameter
// tensors) costs nothing, and boxing would hide it from Burn's module derive.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum LearnedFilterbank {
    /// See [`TdFbank`].
    TdFbank(TdFbank),
    /// See [`SincNet`].
    SincNet(SincNet),
    /// See [`Leaf`].
    Leaf(Leaf),
}

impl LearnedFilterbank {
    /// The filterbank `kind` with `geometry`; `None` for the fixed `mel`.
    ///
    /// # Errors
    /// A geometry the filterbank cannot take (named by its field).
    pub fn new(
        kind: FilterbankKind,
        geometry: FilterbankGeometry,
        device: &Device,
    ) -> Result<Option<Self>> {
        let g = geometry;
        // The three configs share these builder methods (Burn's `Config` derive), not a trait.
        macro_rules! sized {
            ($config:expr) => {
                $config
                    .with_filters(g.filters)
                    .with_sample_rate(g.sample_rate)
                    .with_hop(g.hop)
                    .with_kernel_size(g.taps)
                    .with_pool_size(g.taps)
                    .with_max_freq(g.max_freq)
                    .init(device)?
            };
        }
        Ok(Some(match kind {
            FilterbankKind::Mel => return Ok(None),
            FilterbankKind::TdFbank => LearnedFilterbank::TdFbank(sized!(TdFbankConfig::new())),
            FilterbankKind::SincNet => LearnedFilterbank::SincNet(sized!(SincNetConfig::new())),
            FilterbankKind::Leaf => LearnedFilterbank::Leaf(sized!(LeafConfig::new())),
        }))
    }

    /// Which filterbank this is.
    pub fn kind(&self) -> FilterbankKind {
        match self {
            LearnedFilterbank::TdFbank(_) => FilterbankKind::TdFbank,
            LearnedFilterbank::SincNet(_) => FilterbankKind::SincNet,
            LearnedFilterbank::Leaf(_) => FilterbankKind::Leaf,
        }
    }

    /// Hop between output frames, samples.
    pub fn hop(&self) -> usize {
        match self {
            LearnedFilterbank::TdFbank(m) => m.hop(),
            LearnedFilterbank::SincNet(m) => m.hop(),
            LearnedFilterbank::Leaf(m) => m.hop(),
        }
    }

    /// The filterbank's features of a waveform batch.
    ///
    /// # Shapes
    /// - `x`: `[B, N]`; output `[B, ceil(N / hop), filters]`
    ///
    /// # Errors
    /// An empty batch.
    pub fn forward(&self, x: Tensor<2>) -> Result<Tensor<3>> {
        Ok(match self {
            LearnedFilterbank::TdFbank(m) => m.forward(x)?,
            LearnedFilterbank::SincNet(m) => m.forward(x)?,
            LearnedFilterbank::Leaf(m) => m.forward(x)?,
        })
    }

    /// The current filters as real impulse responses, `filters` rows of `taps` values: the
    /// complex kernels' real parts for TD-fbank and LEAF (their magnitude responses are
    /// drawn from both parts, see [`Self::magnitude_responses`]), the sinc kernels for SincNet.
    fn complex_kernels(&self) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let (kernels, complex) = match self {
            LearnedFilterbank::TdFbank(m) => (m.weight.val(), true),
            LearnedFilterbank::SincNet(m) => (m.kernels(), false),
            LearnedFilterbank::Leaf(m) => (m.kernels(), true),
        };
        let [channels, _, taps] = kernels.dims();
        let values = diffres::host::read_f32(&kernels);
        let rows: Vec<Vec<f32>> = values.chunks(taps).map(<[f32]>::to_vec).collect();
        if complex {
            let f = channels / 2;
            (rows[..f].to_vec(), rows[f..].to_vec())
        } else {
            let zeros = vec![vec![0.0; taps]; rows.len()];
            (rows, zeros)
        }
    }

    /// Magnitude response `|H(f)|` of every filter at `bins` frequencies from 0 to the
    /// Nyquist frequency (a direct DFT of each kernel), `[filters][bins]`.
    pub fn magnitude_responses(&self, bins: usize) -> Vec<Vec<f64>> {
        let (re, im) = self.complex_kernels();
        re.iter()
            .zip(&im)
            .map(|(re, im)| {
                (0..bins)
                    .map(|k| {
                        let w = std::f64::consts::PI * k as f64 / (bins.max(2) - 1) as f64;
                        let (mut sr, mut si) = (0.0f64, 0.0f64);
                        for (n, (&a, &b)) in re.iter().zip(im).enumerate() {
                            let (c, s) = ((w * n as f64).cos(), (w * n as f64).sin());
                            // (a + ib) e^{-iwn}
                            sr += a as f64 * c + b as f64 * s;
                            si += b as f64 * c - a as f64 * s;
                        }
                        (sr * sr + si * si).sqrt()
                    })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_geometry_scales_with_the_rate() {
        for kind in FilterbankKind::ALL {
            assert_eq!(kind.name().parse::<FilterbankKind>().unwrap(), kind);
        }
        assert_eq!(
            "TD-fbank".parse::<FilterbankKind>().unwrap(),
            FilterbankKind::TdFbank
        );
        assert!("gammatone".parse::<FilterbankKind>().is_err());
        let g = FilterbankGeometry::new(64, 16_000, 10.0);
        assert_eq!((g.hop, g.taps, g.max_freq), (160, 401, 7800.0));
        let g = FilterbankGeometry::new(40, 8_000, 10.0);
        assert_eq!((g.hop, g.taps, g.max_freq), (80, 201, 3900.0));
    }

    /// The Table 3 parameter counts through this wrapper, and the initial filters' peaks
    /// on the mel scale (each response peaks near its mel centre).
    #[test]
    fn the_table_3_filterbanks_have_the_papers_parameter_counts() {
        let device = Device::flex();
        for (kind, filters, params) in [
            (FilterbankKind::TdFbank, 64, 51_328),
            (FilterbankKind::SincNet, 128, 256),
            (FilterbankKind::Leaf, 64, 448),
        ] {
            let g = FilterbankGeometry::new(filters, 16_000, 10.0);
            let fb = LearnedFilterbank::new(kind, g, &device).unwrap().unwrap();
            assert_eq!(fb.num_params(), params, "{kind}");
            assert_eq!(fb.kind(), kind);
            let x = Tensor::<2>::zeros([1, 1600], &device);
            assert_eq!(fb.forward(x).unwrap().dims(), [1, 10, filters]);
            let responses = fb.magnitude_responses(257);
            assert_eq!((responses.len(), responses[0].len()), (filters, 257));
            // Peak frequencies rise with the filter index (mel order).
            let peaks: Vec<usize> = responses
                .iter()
                .map(|r| (0..r.len()).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap())
                .collect();
            let rising = peaks.windows(2).filter(|w| w[1] >= w[0]).count();
            assert!(rising >= peaks.len() - 2, "{kind}: {peaks:?}");
        }
        let none = LearnedFilterbank::new(
            FilterbankKind::Mel,
            FilterbankGeometry::new(64, 16_000, 10.0),
            &device,
        )
        .unwrap();
        assert!(none.is_none());
    }
}
