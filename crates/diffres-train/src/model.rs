//! The trained model: a front end followed by a classifier.

use burn::prelude::*;
use diffres::{FrontEnd, FrontEndConfig, FrontEndOutput};
use diffres_models::{Classifier, ClassifierConfig};

use crate::config::TrainConfig;
use crate::error::Result;
use crate::filterbank::LearnedFilterbank;

/// `module` moved to `device` with the values it holds: its parameters are drawn first, where
/// the module was built, then moved (keeping their gradient requirement).
///
/// Why: Burn initialises parameters lazily, and moving an uninitialised parameter only moves
/// its initialiser, so a plain `fork` would draw the weights on `device` with that backend's own
/// generator: the same seed would give another model on a GPU than on the CPU.
pub fn fork_drawn<M: Module>(module: M, device: &Device) -> M {
    struct Draw;
    impl burn::module::ModuleVisitor for Draw {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Draw);
    module.fork(device)
}

/// Filterbank (fixed outside the model, or learned inside it) + temporal front end (DiffRes
/// or a baseline) + classifier.
#[derive(Module, Debug)]
pub struct AudioModel {
    /// The learnable filterbank, when the run has one (`--filterbank tdfbank|sincnet|leaf`);
    /// `None` for log-mel features computed before the model.
    pub filterbank: Option<LearnedFilterbank>,
    /// The temporal-resolution front end.
    pub frontend: FrontEnd,
    /// The classifier.
    pub classifier: Classifier,
}

impl AudioModel {
    /// Builds the model of a run for `classes` classes.
    ///
    /// # Errors
    /// Invalid front-end or classifier settings.
    pub fn new(cfg: &TrainConfig, classes: usize, device: &Device) -> Result<Self> {
        let frontend_cfg = frontend_config(cfg);
        let filterbank = LearnedFilterbank::new(cfg.filterbank, cfg.filterbank_geometry(), device)?;
        let frontend = frontend_cfg.init(device)?;
        let classifier = ClassifierConfig::new(cfg.model, frontend_cfg.channels(), classes)
            .with_cnn_width(cfg.cnn_width)
            .with_dropout(cfg.dropout)
            .with_head(cfg.head)
            .init(device)?;
        Ok(Self {
            filterbank,
            frontend,
            classifier,
        })
    }

    /// Logits (probabilities with the PSLA head) and the front end's output.
    ///
    /// # Shapes
    /// - `x`: `[B, T, F]` features, or `[B, N, 1]` waveforms with a learnable filterbank
    ///   (`lengths` then count samples); logits `[B, classes]`
    ///
    /// # Errors
    /// Bad input for the filterbank or the front end.
    pub fn forward(
        &self,
        x: Tensor<3>,
        lengths: Option<&[usize]>,
    ) -> Result<(Tensor<2>, FrontEndOutput)> {
        let (x, frame_lengths) = match &self.filterbank {
            None => (x, None),
            Some(fb) => {
                let [batch, samples, _] = x.dims();
                let features = fb.forward(x.reshape([batch, samples]))?;
                let hop = fb.hop();
                let frames = lengths.map(|l| {
                    l.iter()
                        .map(|&n| diffres_filterbanks::output_frames(n.max(1), hop))
                        .collect::<Vec<_>>()
                });
                (features, frames)
            }
        };
        let lengths = frame_lengths.as_deref().or(lengths);
        let out = self.frontend.forward(x, lengths)?;
        let logits = self.classifier.forward(out.feature.clone());
        Ok((logits, out))
    }
}

/// The front-end configuration of a run.
pub fn frontend_config(cfg: &TrainConfig) -> FrontEndConfig {
    FrontEndConfig::new(cfg.frontend, cfg.mels)
        .with_delta(cfg.reduction)
        .with_normalization(cfg.score_norm)
        .with_dilation_growth(cfg.dilation)
        .with_empty_eps(cfg.empty_eps)
        .with_guide_lambda(cfg.guide_lambda)
        .with_aggregation(cfg.aggregation)
        .with_resolution_channel(!cfg.no_resolution_encoding)
        .with_warp(cfg.warp)
}

/// Where a run computes: Burn's flex CPU backend, or a GPU through wgpu or Vulkan (in builds
/// with that cargo feature). Serialised and parsed as `cpu`, `wgpu`, `vulkan`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ComputeDevice {
    /// Burn's flex backend on the CPU.
    #[default]
    #[serde(alias = "flex")]
    Cpu,
    /// Burn's wgpu backend (Vulkan, Metal or DX12, whichever the system has).
    #[serde(alias = "gpu")]
    Wgpu,
    /// Burn's wgpu backend on Vulkan.
    Vulkan,
}

impl ComputeDevice {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            ComputeDevice::Cpu => "cpu",
            ComputeDevice::Wgpu => "wgpu",
            ComputeDevice::Vulkan => "vulkan",
        }
    }
}

impl std::fmt::Display for ComputeDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ComputeDevice {
    type Err = crate::TrainError;

    /// `cpu` (or `flex`), `wgpu` (or `gpu`), `vulkan`; case-insensitive.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" | "flex" => Ok(ComputeDevice::Cpu),
            "wgpu" | "gpu" => Ok(ComputeDevice::Wgpu),
            "vulkan" => Ok(ComputeDevice::Vulkan),
            other => Err(crate::TrainError::Config(format!(
                "device '{other}': expected cpu, wgpu or vulkan"
            ))),
        }
    }
}

/// The Burn device of a [`ComputeDevice`].
///
/// # Errors
/// A GPU device in a build without the `wgpu`/`vulkan` feature.
pub fn device(kind: ComputeDevice) -> Result<Device> {
    match kind {
        ComputeDevice::Cpu => Ok(Device::flex()),
        ComputeDevice::Vulkan => vulkan(),
        ComputeDevice::Wgpu => wgpu(),
    }
}

#[cfg(feature = "vulkan")]
fn vulkan() -> Result<Device> {
    Ok(Device::vulkan(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "vulkan"))]
fn vulkan() -> Result<Device> {
    Err(no_gpu("vulkan"))
}

#[cfg(any(feature = "wgpu", feature = "vulkan"))]
fn wgpu() -> Result<Device> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(any(feature = "wgpu", feature = "vulkan")))]
fn wgpu() -> Result<Device> {
    Err(no_gpu("wgpu"))
}

#[allow(dead_code)] // unused when both GPU features are on
fn no_gpu(feature: &str) -> crate::TrainError {
    crate::TrainError::Config(format!(
        "--device {feature}: this build has no GPU support; rebuild with `--features {feature}`"
    ))
}
