//! The DiffRes layer.

use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::DiffResError;
use crate::frames::{output_frames, resolve_lengths};
use crate::importance::{ImportanceNet, ImportanceNetConfig};
use crate::output::FrontEndOutput;
use crate::position::sinusoidal;
use crate::regularizers::{activeness, empty_frames, guide_loss};
use crate::score_norm::{normalize, ScoreNormalization};
use crate::warp::{valid_mask, warp, WarpPlan};

/// How the resolution encoding's positional basis is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResolutionEncoding {
    /// Fixed sinusoidal encoding of the input frame index (the paper's default).
    #[default]
    Sinusoidal,
    /// A learnable `[max_frames, F]` table, initialised to the sinusoidal encoding.
    Learnable {
        /// Longest input accepted.
        max_frames: usize,
    },
}

/// Configuration of [`DiffRes`].
#[derive(Config, Debug)]
pub struct DiffResConfig {
    /// Mel bins `F` of the input.
    pub n_mels: usize,
    /// Dimension reduction rate `delta = (T - t) / T`, in `[0, 1)`.
    #[config(default = 0.5)]
    pub delta: f64,
    /// Dilation growth of the importance network (1 = the paper's).
    #[config(default = 1)]
    pub dilation_growth: usize,
    /// Score normalisation rule.
    #[config(default = "ScoreNormalization::ExactSum")]
    pub normalization: ScoreNormalization,
    /// Resolution encoding basis.
    #[config(default = "ResolutionEncoding::Sinusoidal")]
    pub resolution_encoding: ResolutionEncoding,
    /// A frame is empty when its mean linear energy is below `empty_eps` times the loudest
    /// frame of its clip (default [`crate::DEFAULT_EMPTY_EPS`], the paper's ε).
    #[config(default = "crate::DEFAULT_EMPTY_EPS")]
    pub empty_eps: f64,
    /// Guide-loss threshold `lambda`.
    #[config(default = 0.5)]
    pub guide_lambda: f64,
}

impl DiffResConfig {
    /// Checks the configuration.
    ///
    /// # Errors
    /// An out-of-range `delta` or any invalid importance-network setting.
    pub fn validate(&self) -> crate::Result<()> {
        crate::frames::check_delta(self.delta)?;
        self.importance().validate()?;
        if let ResolutionEncoding::Learnable { max_frames: 0 } = self.resolution_encoding {
            return Err(DiffResError::Config(
                "learnable encoding needs max_frames >= 1".into(),
            ));
        }
        if !(self.empty_eps >= 0.0 && self.guide_lambda.is_finite()) {
            return Err(DiffResError::Config(
                "empty_eps must be >= 0 and guide_lambda finite".into(),
            ));
        }
        Ok(())
    }

    fn importance(&self) -> ImportanceNetConfig {
        ImportanceNetConfig::new(self.n_mels).with_dilation_growth(self.dilation_growth)
    }

    /// Builds the layer.
    ///
    /// # Errors
    /// See [`DiffResConfig::validate`].
    pub fn init(&self, device: &Device) -> crate::Result<DiffRes> {
        self.validate()?;
        let positions = match self.resolution_encoding {
            ResolutionEncoding::Sinusoidal => None,
            ResolutionEncoding::Learnable { max_frames } => {
                let table = sinusoidal(max_frames, self.n_mels);
                Some(Param::from_tensor(Tensor::from_data(
                    TensorData::new(table, [max_frames, self.n_mels]),
                    device,
                )))
            }
        };
        Ok(DiffRes {
            importance: self.importance().init(device)?,
            positions,
            n_mels: self.n_mels,
            delta: self.delta,
            empty_eps: self.empty_eps,
            guide_lambda: self.guide_lambda,
            normalization: self.normalization,
        })
    }
}

/// DiffRes: scores every input frame, merges unimportant frames and keeps important ones, so
/// that `T` frames become `t = floor(T (1 - delta))` frames of varying resolution.
///
/// Output channels: mean aggregation, max aggregation (both log), resolution encoding.
#[derive(Module, Debug)]
pub struct DiffRes {
    importance: ImportanceNet,
    positions: Option<Param<Tensor<2>>>,
    n_mels: usize,
    delta: f64,
    empty_eps: f64,
    guide_lambda: f64,
    #[module(skip)]
    normalization: ScoreNormalization,
}

impl DiffRes {
    /// Dimension reduction rate.
    pub fn delta(&self) -> f64 {
        self.delta
    }

    /// The frame-importance network (its output is the raw score, before normalisation).
    pub fn importance(&self) -> &ImportanceNet {
        &self.importance
    }

    /// The score normalisation rule.
    pub fn normalization(&self) -> ScoreNormalization {
        self.normalization
    }

    /// Applies DiffRes to a batch of natural-log mel spectrograms.
    ///
    /// `lengths` gives each clip's valid frames; frames past it are ignored (score 0, no
    /// weight), so clips of any duration map onto the same `t` output frames. A clip shorter
    /// than `t` fills its first rows one frame each; the rest are empty (`log(1e-12)`).
    ///
    /// # Shapes
    /// - `x`: `[B, T, F]`
    /// - `feature`: `[B, 3, t, F]` (mean, max, resolution encoding), `score`: `[B, T]`,
    ///   `guide_loss` and `activeness`: `[1]`
    ///
    /// # Errors
    /// Wrong `F`, an empty batch, non-finite input, bad lengths, too few frames for `delta`, or
    /// an input longer than a learnable encoding's table.
    pub fn forward(
        &self,
        x: Tensor<3>,
        lengths: Option<&[usize]>,
    ) -> crate::Result<FrontEndOutput> {
        let [batch, frames, mels] = x.dims();
        check_input(&x, self.n_mels)?;
        let t = output_frames(frames, self.delta)?;
        let lengths = resolve_lengths(lengths, batch, frames)?;
        let device = x.device();

        let valid = valid_mask(&lengths, frames, &device); // [B, T]
        let padded = lengths.iter().any(|&l| l < frames);
        let conv_mask = padded.then(|| valid.clone().reshape([batch, 1, frames]));
        let raw = self.importance.forward(x.clone(), conv_mask.as_ref()); // [B, T]
        let normalized = normalize(raw, t, &lengths, self.normalization);
        let plan = WarpPlan::new(&normalized.host, batch, frames, t);
        let positions = self.positions(frames, mels, &device)?;
        let warped = warp(
            x,
            normalized.score.clone(),
            &plan,
            positions,
            &lengths,
            self.delta,
        );

        let (empty, active) = empty_frames(warped.energy, valid, self.empty_eps);
        let guide = guide_loss(
            normalized.score.clone(),
            empty,
            self.delta,
            self.guide_lambda,
        );
        let active = activeness(normalized.score.clone(), active, self.delta);
        Ok(FrontEndOutput {
            feature: warped.feature, // [B, 3, t, F]
            score: Some(normalized.score),
            guide_loss: guide,
            activeness: active,
            plan: Some(plan),
        })
    }

    fn positions(&self, frames: usize, mels: usize, device: &Device) -> crate::Result<Tensor<2>> {
        match &self.positions {
            None => Ok(Tensor::from_data(
                TensorData::new(sinusoidal(frames, mels), [frames, mels]),
                device,
            )),
            Some(table) => {
                let [max_frames, _] = table.dims();
                if frames > max_frames {
                    return Err(DiffResError::Shape {
                        what: "x",
                        expected: format!("at most {max_frames} frames (learnable encoding table)"),
                        got: vec![frames],
                    });
                }
                Ok(table.val().narrow(0, 0, frames))
            }
        }
    }
}

/// Checks a `[B, T, F]` input: `F` as configured, `B, T >= 1`, every value finite.
pub(crate) fn check_input(x: &Tensor<3>, n_mels: usize) -> crate::Result<()> {
    let [batch, frames, mels] = x.dims();
    if mels != n_mels || batch == 0 || frames == 0 {
        return Err(DiffResError::Shape {
            what: "x",
            expected: format!("[B >= 1, T >= 1, F = {n_mels}]"),
            got: vec![batch, frames, mels],
        });
    }
    // One host read of B sums: NaN and +-inf propagate into the sum.
    let sums = crate::host::read_f32(&x.clone().detach().sum_dim(2).sum_dim(1));
    match sums.iter().position(|s| !s.is_finite()) {
        Some(sample) => Err(DiffResError::NonFinite { sample }),
        None => Ok(()),
    }
}
