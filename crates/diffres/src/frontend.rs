//! Choose any front end by name: what a training pipeline switches with a flag.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ablation::{Aggregation, FeatureChannels, WarpKind};
use crate::baselines::{AvgPool, ChangeHopSize, ConvAvgPool, ConvAvgPoolConfig, Identity};
use crate::error::DiffResError;
use crate::layer::{DiffRes, DiffResConfig, ResolutionEncoding};
use crate::output::FrontEndOutput;
use crate::score_norm::ScoreNormalization;

/// The available front ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrontEndKind {
    /// No reduction (the 100-FPS baseline at a 10 ms hop).
    Identity,
    /// The learned temporal resolution.
    DiffRes,
    /// Adaptive average pooling.
    AvgPool,
    /// Mean of adaptive average and max pooling.
    AvgMaxPool,
    /// Residual convolutions then adaptive average pooling.
    ConvAvgPool,
    /// Uniform frame selection (a larger hop).
    ChangeHopSize,
}

impl FrontEndKind {
    /// Every kind, in the order of the paper's Table 1 (baselines first, DiffRes last).
    pub const ALL: [FrontEndKind; 6] = [
        FrontEndKind::Identity,
        FrontEndKind::ChangeHopSize,
        FrontEndKind::AvgPool,
        FrontEndKind::AvgMaxPool,
        FrontEndKind::ConvAvgPool,
        FrontEndKind::DiffRes,
    ];

    /// The command-line name (`diffres`, `avgpool`, ...).
    pub fn name(self) -> &'static str {
        match self {
            FrontEndKind::Identity => "identity",
            FrontEndKind::DiffRes => "diffres",
            FrontEndKind::AvgPool => "avgpool",
            FrontEndKind::AvgMaxPool => "avgmaxpool",
            FrontEndKind::ConvAvgPool => "convavgpool",
            FrontEndKind::ChangeHopSize => "changehopsize",
        }
    }

    /// Channels of the feature it outputs with the paper's settings (3 for DiffRes, 1
    /// otherwise); [`FrontEndConfig::channels`] accounts for DiffRes's ablations.
    pub fn channels(self) -> usize {
        if self == FrontEndKind::DiffRes {
            3
        } else {
            1
        }
    }
}

impl fmt::Display for FrontEndKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FrontEndKind {
    type Err = DiffResError;

    fn from_str(s: &str) -> crate::Result<Self> {
        let wanted = s.trim().to_ascii_lowercase().replace(['-', '_'], "");
        FrontEndKind::ALL
            .into_iter()
            .find(|k| k.name() == wanted)
            .ok_or_else(|| DiffResError::UnknownFrontEnd(s.to_string()))
    }
}

/// Configuration of any front end.
#[derive(Config, Debug)]
pub struct FrontEndConfig {
    /// Which front end.
    pub kind: FrontEndKind,
    /// Mel bins `F`.
    pub n_mels: usize,
    /// Dimension reduction rate (ignored by [`FrontEndKind::Identity`]).
    #[config(default = 0.5)]
    pub delta: f64,
    /// DiffRes: dilation growth of the importance network.
    #[config(default = 1)]
    pub dilation_growth: usize,
    /// DiffRes: a frame is empty (for the guide loss) below this fraction of the clip's loudest
    /// frame's energy (default [`crate::DEFAULT_EMPTY_EPS`], the paper's ε).
    #[config(default = "crate::DEFAULT_EMPTY_EPS")]
    pub empty_eps: f64,
    /// DiffRes: score normalisation.
    #[config(default = "ScoreNormalization::ExactSum")]
    pub normalization: ScoreNormalization,
    /// DiffRes: resolution encoding.
    #[config(default = "ResolutionEncoding::Sinusoidal")]
    pub resolution_encoding: ResolutionEncoding,
    /// DiffRes: guide-loss threshold `lambda` (default [`crate::DEFAULT_GUIDE_LAMBDA`]).
    #[config(default = "crate::DEFAULT_GUIDE_LAMBDA")]
    pub guide_lambda: f64,
    /// DiffRes: aggregations output (ablation; the paper uses both).
    #[config(default = "Aggregation::MeanMax")]
    pub aggregation: Aggregation,
    /// DiffRes: append the resolution encoding channel (false: the ablation without it).
    #[config(default = true)]
    pub resolution_channel: bool,
    /// DiffRes: equation 5 with Algorithm 1 (`Full`) or alone (ablation).
    #[config(default = "WarpKind::Full")]
    pub warp: WarpKind,
}

impl FrontEndConfig {
    /// Output frames for `frames` input frames.
    ///
    /// # Errors
    /// Out-of-range `delta` or no output frame left.
    pub fn output_frames(&self, frames: usize) -> crate::Result<usize> {
        match self.kind {
            FrontEndKind::Identity => Ok(frames),
            _ => crate::frames::output_frames(frames, self.delta),
        }
    }

    /// Channels `C` of the feature `[B, C, t, F]` this front end outputs.
    pub fn channels(&self) -> usize {
        match self.kind {
            FrontEndKind::DiffRes => FeatureChannels {
                aggregation: self.aggregation,
                resolution: self.resolution_channel,
            }
            .count(),
            kind => kind.channels(),
        }
    }

    /// Builds the front end.
    ///
    /// # Errors
    /// Any invalid setting (`delta` out of `[0, 1)`, zero mels, ...).
    pub fn init(&self, device: &Device) -> crate::Result<FrontEnd> {
        if self.n_mels == 0 {
            return Err(DiffResError::Config("n_mels must be at least 1".into()));
        }
        Ok(match self.kind {
            FrontEndKind::Identity => FrontEnd::Identity(Identity::new(self.n_mels)),
            FrontEndKind::DiffRes => FrontEnd::DiffRes(
                DiffResConfig::new(self.n_mels)
                    .with_delta(self.delta)
                    .with_dilation_growth(self.dilation_growth)
                    .with_empty_eps(self.empty_eps)
                    .with_normalization(self.normalization)
                    .with_resolution_encoding(self.resolution_encoding)
                    .with_guide_lambda(self.guide_lambda)
                    .with_aggregation(self.aggregation)
                    .with_resolution_channel(self.resolution_channel)
                    .with_warp(self.warp)
                    .init(device)?,
            ),
            FrontEndKind::AvgPool => FrontEnd::AvgPool(AvgPool::new(self.n_mels, self.delta)?),
            FrontEndKind::AvgMaxPool => {
                FrontEnd::AvgMaxPool(AvgPool::avg_max(self.n_mels, self.delta)?)
            }
            FrontEndKind::ConvAvgPool => FrontEnd::ConvAvgPool(
                ConvAvgPoolConfig::new(self.n_mels)
                    .with_delta(self.delta)
                    .init(device)?,
            ),
            FrontEndKind::ChangeHopSize => {
                FrontEnd::ChangeHopSize(ChangeHopSize::new(self.n_mels, self.delta)?)
            }
        })
    }
}

/// Any front end, as one module.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum FrontEnd {
    /// See [`Identity`].
    Identity(Identity),
    /// See [`DiffRes`].
    DiffRes(DiffRes),
    /// See [`AvgPool`].
    AvgPool(AvgPool),
    /// See [`AvgPool::avg_max`].
    AvgMaxPool(AvgPool),
    /// See [`ConvAvgPool`].
    ConvAvgPool(ConvAvgPool),
    /// See [`ChangeHopSize`].
    ChangeHopSize(ChangeHopSize),
}

impl FrontEnd {
    /// Applies the front end.
    ///
    /// # Shapes
    /// - `x`: `[B, T, F]` natural-log mel spectrogram, `lengths`: `B` valid lengths or `None`
    /// - `feature`: `[B, C, t, F]`
    ///
    /// # Errors
    /// Wrong shape, non-finite input, bad lengths, or too few frames for `delta`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        lengths: Option<&[usize]>,
    ) -> crate::Result<FrontEndOutput> {
        match self {
            FrontEnd::Identity(m) => m.forward(x, lengths),
            FrontEnd::DiffRes(m) => m.forward(x, lengths),
            FrontEnd::AvgPool(m) | FrontEnd::AvgMaxPool(m) => m.forward(x, lengths),
            FrontEnd::ConvAvgPool(m) => m.forward(x, lengths),
            FrontEnd::ChangeHopSize(m) => m.forward(x, lengths),
        }
    }

    /// Which front end this is.
    pub fn kind(&self) -> FrontEndKind {
        match self {
            FrontEnd::Identity(_) => FrontEndKind::Identity,
            FrontEnd::DiffRes(_) => FrontEndKind::DiffRes,
            FrontEnd::AvgPool(_) => FrontEndKind::AvgPool,
            FrontEnd::AvgMaxPool(_) => FrontEndKind::AvgMaxPool,
            FrontEnd::ConvAvgPool(_) => FrontEndKind::ConvAvgPool,
            FrontEnd::ChangeHopSize(_) => FrontEndKind::ChangeHopSize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in FrontEndKind::ALL {
            assert_eq!(kind.name().parse::<FrontEndKind>().unwrap(), kind);
        }
        assert_eq!(
            "Avg-Pool".parse::<FrontEndKind>().unwrap(),
            FrontEndKind::AvgPool
        );
        assert!(matches!(
            "pool".parse::<FrontEndKind>(),
            Err(DiffResError::UnknownFrontEnd(_))
        ));
    }

    #[test]
    fn every_front_end_has_its_shape() {
        let device = Device::flex();
        let x = Tensor::<3>::random([2, 12, 8], burn::tensor::Distribution::Default, &device);
        for kind in FrontEndKind::ALL {
            let fe = FrontEndConfig::new(kind, 8)
                .with_delta(0.75)
                .init(&device)
                .unwrap();
            let out = fe.forward(x.clone(), None).unwrap();
            let t = if kind == FrontEndKind::Identity {
                12
            } else {
                3
            };
            assert_eq!(out.feature.dims(), [2, kind.channels(), t, 8], "{kind}");
        }
    }
}
