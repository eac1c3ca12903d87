//! The paper's ablations (Figure 8): which aggregations DiffRes outputs, whether it appends the
//! resolution encoding, and whether the warp applies Algorithm 1 after equation 5.
//!
//! The warp kernels (fused and portable) always compute the mean, max and resolution channels;
//! the ablated feature keeps the chosen ones ([`FeatureChannels::select`]), so both paths give
//! the same ablated output by construction. Equation 5 alone is a different [`WarpPlan`]
//! (`WarpPlan::eq5`): every frame goes whole to the row its cumulative score ends in, which
//! both paths route the same way as the full warp's plan.
//!
//! [`WarpPlan`]: crate::WarpPlan

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::DiffResError;

/// The frame aggregation functions `A` of the paper's equation 6 that DiffRes outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Aggregation {
    /// Mean only: `log(sum_j W[k, j] exp(x_j))`.
    #[serde(rename = "mean")]
    Mean,
    /// Max only: `log(max_j W[k, j] exp(x_j) / (1 - delta))`.
    #[serde(rename = "max")]
    Max,
    /// Both, mean then max (the paper's setting).
    #[default]
    #[serde(rename = "mean,max")]
    MeanMax,
}

impl Aggregation {
    /// The command-line spelling: `mean`, `max`, `mean,max`.
    pub fn name(self) -> &'static str {
        match self {
            Aggregation::Mean => "mean",
            Aggregation::Max => "max",
            Aggregation::MeanMax => "mean,max",
        }
    }
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Aggregation {
    type Err = DiffResError;

    /// `mean`, `max`, or both as `mean,max` (`max,mean` and `mean+max` too).
    fn from_str(s: &str) -> crate::Result<Self> {
        let mut parts: Vec<String> = s
            .split([',', '+'])
            .map(|p| p.trim().to_ascii_lowercase())
            .collect();
        parts.sort();
        parts.dedup();
        match parts.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["mean"] => Ok(Aggregation::Mean),
            ["max"] => Ok(Aggregation::Max),
            ["max", "mean"] => Ok(Aggregation::MeanMax),
            _ => Err(DiffResError::Config(format!(
                "aggregation '{s}': expected mean, max or mean,max"
            ))),
        }
    }
}

/// How the warp matrix is built from the normalised scores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WarpKind {
    /// Equation 5 followed by Algorithm 1: `W[k, j] = |[C_{j-1}, C_j) ∩ [k, k+1)|`, every
    /// output frame gets total weight 1 (the paper's setting).
    #[default]
    Full,
    /// Equation 5 alone: `W[k, j] = s_j` where `k < C_j <= k + 1`, 0 elsewhere. A frame that
    /// straddles two output frames goes whole to the later one, so row sums vary.
    Eq5,
}

impl WarpKind {
    /// The command-line spelling: `full`, `eq5`.
    pub fn name(self) -> &'static str {
        match self {
            WarpKind::Full => "full",
            WarpKind::Eq5 => "eq5",
        }
    }
}

impl fmt::Display for WarpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WarpKind {
    type Err = DiffResError;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(WarpKind::Full),
            "eq5" => Ok(WarpKind::Eq5),
            other => Err(DiffResError::Config(format!(
                "warp '{other}': expected full (equation 5 and Algorithm 1) or eq5 (equation 5 alone)"
            ))),
        }
    }
}

/// Which channels DiffRes's feature holds, in order: the aggregations, then the resolution
/// encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureChannels {
    /// The aggregations.
    pub aggregation: Aggregation,
    /// Whether the resolution encoding is appended.
    pub resolution: bool,
}

impl Default for FeatureChannels {
    /// The paper's: mean, max, resolution encoding.
    fn default() -> Self {
        Self {
            aggregation: Aggregation::MeanMax,
            resolution: true,
        }
    }
}

impl FeatureChannels {
    /// Indices into the warp's `[mean, max, resolution]` channels, in output order.
    fn sources(self) -> Vec<usize> {
        let mut out = match self.aggregation {
            Aggregation::Mean => vec![0],
            Aggregation::Max => vec![1],
            Aggregation::MeanMax => vec![0, 1],
        };
        if self.resolution {
            out.push(2);
        }
        out
    }

    /// Number of channels `C` of the feature.
    pub fn count(self) -> usize {
        self.sources().len()
    }

    /// Output channel of the mean aggregation, if kept.
    pub fn mean(self) -> Option<usize> {
        self.sources().iter().position(|&c| c == 0)
    }

    /// Output channel of the max aggregation, if kept.
    pub fn max(self) -> Option<usize> {
        self.sources().iter().position(|&c| c == 1)
    }

    /// Output channel of the resolution encoding, if kept.
    pub fn resolution(self) -> Option<usize> {
        self.sources().iter().position(|&c| c == 2)
    }

    /// Keeps the chosen channels of the warp's `[B, 3, t, F]` feature (mean, max, resolution).
    ///
    /// # Shapes
    /// - `feature`: `[B, 3, t, F]`; output `[B, C, t, F]` with `C` = [`FeatureChannels::count`]
    pub fn select(self, feature: Tensor<4>) -> Tensor<4> {
        let sources = self.sources();
        if sources == [0, 1, 2] {
            return feature;
        }
        let parts: Vec<Tensor<4>> = sources
            .iter()
            .map(|&c| feature.clone().narrow(1, c, 1))
            .collect();
        if parts.len() == 1 {
            parts.into_iter().next().expect("one part")
        } else {
            Tensor::cat(parts, 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_are_errors() {
        for a in [Aggregation::Mean, Aggregation::Max, Aggregation::MeanMax] {
            assert_eq!(a.name().parse::<Aggregation>().unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
            assert_eq!(serde_json::from_str::<Aggregation>(&json).unwrap(), a);
        }
        assert_eq!(
            "max, MEAN".parse::<Aggregation>().unwrap(),
            Aggregation::MeanMax
        );
        assert!("median".parse::<Aggregation>().is_err());
        assert!("mean,median".parse::<Aggregation>().is_err());
        for w in [WarpKind::Full, WarpKind::Eq5] {
            assert_eq!(w.name().parse::<WarpKind>().unwrap(), w);
        }
        assert!("alg1".parse::<WarpKind>().is_err());
    }

    #[test]
    fn channels_are_selected_in_order() {
        let device = Device::flex();
        // Channel c holds the value c everywhere.
        let feature = Tensor::<4>::from_data(
            TensorData::new(
                (0..3).flat_map(|c| vec![c as f32; 4]).collect::<Vec<_>>(),
                [1, 3, 2, 2],
            ),
            &device,
        );
        let firsts = |fc: FeatureChannels| -> Vec<f32> {
            let out = fc.select(feature.clone());
            let [_, c, _, _] = out.dims();
            let v: Vec<f32> = out.into_data().convert::<f32>().try_to_vec().unwrap();
            (0..c).map(|i| v[i * 4]).collect()
        };
        let cases = [
            (Aggregation::MeanMax, true, vec![0.0, 1.0, 2.0]),
            (Aggregation::MeanMax, false, vec![0.0, 1.0]),
            (Aggregation::Mean, true, vec![0.0, 2.0]),
            (Aggregation::Max, true, vec![1.0, 2.0]),
            (Aggregation::Max, false, vec![1.0]),
        ];
        for (aggregation, resolution, want) in cases {
            let fc = FeatureChannels {
                aggregation,
                resolution,
            };
            assert_eq!(firsts(fc), want, "{aggregation} resolution {resolution}");
            assert_eq!(fc.count(), want.len());
            assert_eq!(fc.resolution().is_some(), resolution);
        }
        let fc = FeatureChannels {
            aggregation: Aggregation::Max,
            resolution: true,
        };
        assert_eq!(
            (fc.mean(), fc.max(), fc.resolution()),
            (None, Some(0), Some(1))
        );
    }
}
