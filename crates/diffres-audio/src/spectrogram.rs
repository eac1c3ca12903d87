//! Which spectrogram a feature extractor computes, and the normalisation applied to it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{AudioError, Result};

/// The kind of features: a spectrogram, or the waveform itself (for learnable filterbanks).
/// Serialised and parsed with the command line's spellings, `log-mel`, `kaldi`, `waveform`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FeatureKind {
    /// librosa-compatible log-mel ([`crate::LogMel`]): centred frames, `ln(mel + 1e-6)`.
    #[default]
    #[serde(rename = "log-mel")]
    LogMel,
    /// Kaldi-compatible log filterbank ([`crate::KaldiFbank`]), the features of PSLA, AST and
    /// the authors' DiffRes recipes.
    #[serde(rename = "kaldi")]
    Kaldi,
    /// The resampled samples themselves, one per row (`[samples][1]`), for front ends that
    /// learn their own filterbank from the waveform; padding is 0 (silence).
    #[serde(rename = "waveform")]
    Waveform,
}

impl FeatureKind {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::LogMel => "log-mel",
            FeatureKind::Kaldi => "kaldi",
            FeatureKind::Waveform => "waveform",
        }
    }
}

impl fmt::Display for FeatureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FeatureKind {
    type Err = AudioError;

    /// `log-mel` (or `logmel`, `mel`), `kaldi` (or `fbank`) or `waveform`, case-insensitive.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "log-mel" | "logmel" | "mel" => Ok(FeatureKind::LogMel),
            "kaldi" | "fbank" | "kaldi-fbank" => Ok(FeatureKind::Kaldi),
            "waveform" | "wave" => Ok(FeatureKind::Waveform),
            other => Err(AudioError::InvalidConfig(format!(
                "features '{other}': expected log-mel, kaldi or waveform"
            ))),
        }
    }
}

/// PSLA's dataset normalisation of log features: `x -> (x - mean) / (2 std)`, with the
/// dataset's mean and standard deviation (PSLA's AudioSet constants are `-4.2677393,4.5689974`).
/// Parsed from `MEAN,STD`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Mean of the features over the dataset.
    pub mean: f32,
    /// Standard deviation of the features over the dataset (positive).
    pub std: f32,
}

impl Normalization {
    /// Checks that both values are finite and `std` positive.
    ///
    /// # Errors
    /// [`AudioError::InvalidConfig`] naming the values.
    pub fn validate(&self) -> Result<()> {
        if self.mean.is_finite() && self.std.is_finite() && self.std > 0.0 {
            Ok(())
        } else {
            Err(AudioError::InvalidConfig(format!(
                "normalisation mean {} and std {} must be finite with std > 0",
                self.mean, self.std
            )))
        }
    }

    /// `(x - mean) / (2 std)`.
    pub fn apply(&self, x: f32) -> f32 {
        (x - self.mean) / (2.0 * self.std)
    }

    /// Normalises every value in place.
    pub fn apply_all(&self, values: &mut [f32]) {
        values.iter_mut().for_each(|v| *v = self.apply(*v));
    }
}

impl fmt::Display for Normalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.mean, self.std)
    }
}

impl FromStr for Normalization {
    type Err = AudioError;

    /// `MEAN,STD`, e.g. `-4.2677393,4.5689974`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            AudioError::InvalidConfig(format!(
                "normalisation '{s}': expected MEAN,STD such as -4.27,4.57 (std > 0)"
            ))
        };
        let (mean, std) = s.split_once(',').ok_or_else(bad)?;
        let n = Normalization {
            mean: mean.trim().parse().map_err(|_| bad())?,
            std: std.trim().parse().map_err(|_| bad())?,
        };
        n.validate().map_err(|_| bad())?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_parse() {
        for kind in [FeatureKind::LogMel, FeatureKind::Kaldi] {
            assert_eq!(kind.name().parse::<FeatureKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
        assert!("mfcc".parse::<FeatureKind>().is_err());
        let n: Normalization = " -4.5, 2 ".parse().unwrap();
        assert_eq!((n.mean, n.std), (-4.5, 2.0));
        assert_eq!(n.apply(-0.5), 1.0);
        assert_eq!(n.to_string().parse::<Normalization>().unwrap(), n);
        for bad in ["1", "1,0", "1,-2", "a,b", "1,2,3", "nan,1"] {
            assert!(bad.parse::<Normalization>().is_err(), "{bad}");
        }
    }
}
