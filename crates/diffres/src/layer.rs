//! The DiffRes layer.

use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ablation::{Aggregation, FeatureChannels, WarpKind};
use crate::error::DiffResError;
use crate::frames::{output_frames, resolve_lengths};
use crate::importance::{ImportanceNet, ImportanceNetConfig};
use crate::output::FrontEndOutput;
use crate::position::sinusoidal;
use crate::regularizers::{activeness, empty_frames, guide_loss};
use crate::score_norm::{normalize, normalize_device, ScoreNormalization, WATER_FILL_PASSES};
use crate::warp::{valid_mask, warp, warp_device, WarpPlan, Warped};

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
    /// Guide-loss threshold `lambda` (default [`crate::DEFAULT_GUIDE_LAMBDA`], the paper's).
    #[config(default = "crate::DEFAULT_GUIDE_LAMBDA")]
    pub guide_lambda: f64,
    /// Aggregations output (ablation; the paper uses both).
    #[config(default = "Aggregation::MeanMax")]
    pub aggregation: Aggregation,
    /// Append the resolution encoding as the last channel (false: the ablation without it).
    #[config(default = true)]
    pub resolution_channel: bool,
    /// Warp matrix: equation 5 and Algorithm 1 (`Full`), or equation 5 alone (ablation).
    #[config(default = "WarpKind::Full")]
    pub warp: WarpKind,
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

    /// The channels of the layer's feature.
    pub fn channels(&self) -> FeatureChannels {
        FeatureChannels {
            aggregation: self.aggregation,
            resolution: self.resolution_channel,
        }
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
            channels: self.channels(),
            warp: self.warp,
        })
    }
}

/// DiffRes: scores every input frame, merges unimportant frames and keeps important ones, so
/// that `T` frames become `t = floor(T (1 - delta))` frames of varying resolution.
///
/// Output channels: mean aggregation, max aggregation (both log), resolution encoding (fewer
/// in the ablations, see [`FeatureChannels`]).
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
    #[module(skip)]
    channels: FeatureChannels,
    #[module(skip)]
    warp: WarpKind,
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

    /// The channels of the feature (the paper's mean, max and resolution encoding by default).
    pub fn channels(&self) -> FeatureChannels {
        self.channels
    }

    /// The warp matrix construction (equation 5 with or without Algorithm 1).
    pub fn warp_kind(&self) -> WarpKind {
        self.warp
    }

    /// Applies DiffRes to a batch of natural-log mel spectrograms.
    ///
    /// `lengths` gives each clip's valid frames; frames past it are ignored (score 0, no
    /// weight), so clips of any duration map onto the same `t` output frames. A clip shorter
    /// than `t` fills its first rows one frame each; the rest are empty (`log(1e-12)`).
    ///
    /// # Shapes
    /// - `x`: `[B, T, F]`
    /// - `feature`: `[B, C, t, F]`, `C = 3` (mean, max, resolution encoding; fewer in the
    ///   ablations, [`DiffRes::channels`]), `score`: `[B, T]`,
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
        check_shape(&x, self.n_mels)?;
        let t = output_frames(frames, self.delta)?;
        let lengths = resolve_lengths(lengths, batch, frames)?;
        let positions = self.positions(frames, mels, &x.device())?;
        if crate::cpu::flex::flex_kind(&x).is_some() {
            check_finite(&x)?;
            return Ok(self.forward_planned(x, &lengths, t, positions));
        }
        self.forward_on_device(x, &lengths, t, positions)
    }

    /// The flex path: scores normalised and the warp planned on the host in `f64` (reads on
    /// flex are copies), then the fused warp kernel.
    fn forward_planned(
        &self,
        x: Tensor<3>,
        lengths: &[usize],
        t: usize,
        positions: Tensor<2>,
    ) -> FrontEndOutput {
        let [batch, frames, _] = x.dims();
        let valid = valid_mask(lengths, frames, &x.device()); // [B, T]
        let raw = self.raw_scores(x.clone(), lengths, &valid);
        let normalized = normalize(raw, t, lengths, self.normalization);
        let plan = self.plan(&normalized.host, batch, frames, t);
        let warped = warp(
            x,
            normalized.score.clone(),
            &plan,
            positions,
            lengths,
            self.delta,
        );
        self.finish(warped, normalized.score, valid, Some(plan))
    }

    /// Every other backend: every step a device operation, and one read per forward, of the
    /// `[B, 2]` flags (non-finite input, unsettled water-filling), after the whole forward is
    /// queued. A batch whose water-filling has not settled (rare: each pass clips every frame
    /// the current scale pushes past 1) is normalised again with more passes.
    fn forward_on_device(
        &self,
        x: Tensor<3>,
        lengths: &[usize],
        t: usize,
        positions: Tensor<2>,
    ) -> crate::Result<FrontEndOutput> {
        let [batch, frames, _] = x.dims();
        let valid = valid_mask(lengths, frames, &x.device()); // [B, T]
        let raw = self.raw_scores(x.clone(), lengths, &valid);
        let sums = x.clone().detach().sum_dim(2).sum_dim(1).reshape([batch, 1]); // NaN/inf propagate
        let mut passes = WATER_FILL_PASSES;
        loop {
            let normalized =
                normalize_device(raw.clone(), t, valid.clone(), self.normalization, passes);
            let warped = match self.warp {
                WarpKind::Full => warp_device(
                    x.clone(),
                    normalized.score.clone(),
                    t,
                    positions.clone(),
                    lengths,
                    self.delta,
                ),
                // The ablation's warp has no device routes: it is planned on the host, one
                // more read per forward.
                WarpKind::Eq5 => {
                    let host: Vec<f64> = crate::host::read_f32(&normalized.score)
                        .into_iter()
                        .map(f64::from)
                        .collect();
                    let plan = self.plan(&host, batch, frames, t);
                    warp(
                        x.clone(),
                        normalized.score.clone(),
                        &plan,
                        positions.clone(),
                        lengths,
                        self.delta,
                    )
                }
            };
            let output = self.finish(warped, normalized.score, valid.clone(), None);
            let flags =
                crate::host::read_f32(&Tensor::cat(vec![sums.clone(), normalized.unsettled], 1));
            if let Some(sample) = flags.chunks(2).position(|f| !f[0].is_finite()) {
                return Err(DiffResError::NonFinite { sample });
            }
            // Each pass clips at least one more frame until it settles: `frames` passes always do.
            if flags.chunks(2).all(|f| f[1] == 0.0) || passes > frames {
                return Ok(output);
            }
            passes *= 4;
        }
    }

    /// The warp's plan from host scores, as [`DiffRes::warp_kind`] builds it.
    fn plan(&self, score: &[f64], batch: usize, frames: usize, t: usize) -> WarpPlan {
        match self.warp {
            WarpKind::Full => WarpPlan::new(score, batch, frames, t),
            WarpKind::Eq5 => WarpPlan::eq5(score, batch, frames, t),
        }
    }

    /// The importance network's raw sigmoid scores, `[B, T]`.
    fn raw_scores(&self, x: Tensor<3>, lengths: &[usize], valid: &Tensor<2>) -> Tensor<2> {
        let [batch, frames, _] = x.dims();
        let padded = lengths.iter().any(|&l| l < frames);
        let conv_mask = padded.then(|| valid.clone().reshape([batch, 1, frames]));
        self.importance.forward(x, conv_mask.as_ref()) // [B, T]
    }

    /// Guide loss and activeness from the warp's energies; the output.
    fn finish(
        &self,
        warped: Warped,
        score: Tensor<2>,
        valid: Tensor<2>,
        plan: Option<WarpPlan>,
    ) -> FrontEndOutput {
        let (empty, active) = empty_frames(warped.energy, valid, self.empty_eps);
        let guide = guide_loss(score.clone(), empty, self.delta, self.guide_lambda);
        let active = activeness(score.clone(), active, self.delta);
        FrontEndOutput {
            feature: self.channels.select(warped.feature), // [B, C, t, F]
            score: Some(score),
            guide_loss: guide,
            activeness: active,
            plan,
        }
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
    check_shape(x, n_mels)?;
    check_finite(x)
}

/// `F` as configured, `B, T >= 1`.
fn check_shape(x: &Tensor<3>, n_mels: usize) -> crate::Result<()> {
    let [batch, frames, mels] = x.dims();
    if mels != n_mels || batch == 0 || frames == 0 {
        return Err(DiffResError::Shape {
            what: "x",
            expected: format!("[B >= 1, T >= 1, F = {n_mels}]"),
            got: vec![batch, frames, mels],
        });
    }
    Ok(())
}

/// Every value finite: one device reduction and one host read of `B` sums (NaN and +-inf
/// propagate into the sum).
fn check_finite(x: &Tensor<3>) -> crate::Result<()> {
    let sums = crate::host::read_f32(&x.clone().detach().sum_dim(2).sum_dim(1));
    match sums.iter().position(|s| !s.is_finite()) {
        Some(sample) => Err(DiffResError::NonFinite { sample }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        crate::host::read_f32(&(a - b).abs().max())[0]
    }

    /// The device path (every backend but flex: normalisation, routes and both aggregations as
    /// tensor operations) against the flex path (host plan in f64, fused warp): values, guide
    /// loss and gradients, for both normalisations, with and without padding; and exactly one
    /// read per forward.
    #[test]
    fn device_path_matches_the_flex_path_and_reads_once() {
        let device = Device::flex().autodiff();
        device.seed(5);
        for normalization in [ScoreNormalization::ExactSum, ScoreNormalization::Reference] {
            for lengths in [None, Some(&[40usize, 27, 12][..])] {
                let layer = DiffResConfig::new(16)
                    .with_delta(0.6)
                    .with_normalization(normalization)
                    .init(&device)
                    .unwrap();
                let x = Tensor::<3>::random([3, 40, 16], Distribution::Normal(-4.0, 2.0), &device)
                    .require_grad();
                let resolved = resolve_lengths(lengths, 3, 40).unwrap();
                let positions = layer.positions(40, 16, &device).unwrap();
                let flex = layer.forward(x.clone(), lengths).unwrap();
                // On flex the importance network's fused kernels read (copies there); the rest
                // of the device path reads once.
                let valid = valid_mask(&resolved, 40, &device);
                let before = crate::host::host_reads();
                drop(layer.raw_scores(x.clone(), &resolved, &valid));
                let importance_reads = crate::host::host_reads() - before;
                let before = crate::host::host_reads();
                let dev = layer
                    .forward_on_device(x.clone(), &resolved, 16, positions)
                    .unwrap();
                let reads = crate::host::host_reads() - before - importance_reads;
                assert_eq!(reads, 1, "one read per forward");
                let what = format!("{normalization:?}, lengths {lengths:?}");
                // Relative to the feature's largest magnitude (log energies reach ~10, where
                // an f32 unit in the last place is 1e-6 and the paths sum in other orders; the
                // host plans in f64, the device in f32, so a frame boundary can sit a few ulps
                // apart: measured up to 1.8e-5 of the scale on some draws, the tests of this
                // binary sharing Burn's generator).
                let d = max_abs_diff(flex.feature.clone(), dev.feature.clone());
                let scale = crate::host::read_f32(&flex.feature.clone().abs().max())[0];
                assert!(
                    d < 1e-4 * scale.max(1.0),
                    "{what}: feature differs by {d} (largest magnitude {scale})"
                );
                let d = max_abs_diff(flex.score.clone().unwrap(), dev.score.clone().unwrap());
                assert!(d < 1e-5, "{what}: score differs by {d}");
                let d = max_abs_diff(flex.guide_loss.clone(), dev.guide_loss.clone());
                assert!(d < 1e-5, "{what}: guide loss differs by {d}");
                let weight = Tensor::<4>::random(
                    flex.feature.dims(),
                    Distribution::Normal(0.0, 1.0),
                    &device,
                );
                let loss =
                    |out: FrontEndOutput| (out.feature * weight.clone()).sum() + out.guide_loss;
                let ga = loss(flex).backward();
                let gb = loss(dev).backward();
                let gx = max_abs_diff(x.grad(&ga).unwrap(), x.grad(&gb).unwrap());
                let scale = crate::host::read_f32(&x.grad(&ga).unwrap().abs().max())[0];
                assert!(
                    gx < 1e-4 * scale.max(1.0),
                    "{what}: input gradient differs by {gx}"
                );
                let w = |g: &_| layer.importance.blocks[0].conv1.weight.grad(g).unwrap();
                let gw = max_abs_diff(w(&ga), w(&gb));
                let scale = crate::host::read_f32(&w(&ga).abs().max())[0];
                assert!(
                    gw < 1e-4 * scale.max(1.0),
                    "{what}: weight gradient differs by {gw}"
                );
            }
        }
    }
}
