//! # diffres-models
//!
//! Classifier backbones that take a front end's feature `[B, C, t, F]` (channels, output
//! frames, mel bins) and return class logits `[B, n_classes]`:
//! - [`CompactCnn`] (`cnn`): four conv blocks, trains in minutes on two CPU cores;
//! - EfficientNet-B0 / B2 with the 4-head attention pooling of PSLA (`efficientnet-b0`,
//!   `efficientnet-b2`), for GPUs.
//!
//! Logits, not probabilities: apply softmax (single-label) or sigmoid (multi-label). The one
//! exception is EfficientNet with [`ClassifierHead::Psla`], PSLA's model exactly, which returns
//! PSLA's probabilities.
//!
//! Weights: [`save_weights`] / [`load_weights`] (safetensors, partial loads reported by
//! [`load_weights_with_report`]); [`trainable_params`] counts parameters as PyTorch does.
//! PyTorch checkpoints: [`checkpoint`] reads `.pth` and safetensors files into host tensors
//! and applies them; [`psla`] maps PSLA's `EffNetAttention` and `efficientnet_pytorch`'s
//! ImageNet weights onto our EfficientNet and back; [`pydiffres`] does the same for the
//! authors' DiffRes layer.
//!
//! ```
//! use burn::prelude::*;
//! use diffres_models::{ClassifierConfig, ClassifierKind};
//!
//! let device = Device::flex();
//! let model = ClassifierConfig::new(ClassifierKind::Cnn, 3, 10).init(&device)?;
//! let logits = model.forward(Tensor::<4>::zeros([2, 3, 25, 64], &device));
//! assert_eq!(logits.dims(), [2, 10]);
//! # Ok::<(), diffres_models::ModelError>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod attention;
pub mod checkpoint;
pub mod cnn;
mod cpu;
pub mod efficientnet;
pub mod error;
mod layers;
pub mod psla;
pub mod pydiffres;
pub mod weights;

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result as ModelResult;
pub use attention::{ClassifierHead, MHeadAttention, MHeadAttentionConfig};
pub use checkpoint::{Checkpoint, CheckpointKind, HostTensor, Imported};
pub use cnn::{CompactCnn, CompactCnnConfig};
pub use cpu::use_host_kernels;
pub use diffres::trainable_params;
pub use efficientnet::{EfficientNet, EfficientNetConfig, EfficientNetVariant};
pub use error::ModelError;
pub use weights::{load_weights, load_weights_with_report, save_weights, LoadReport};

/// The available classifiers.
///
/// Serialised with the command line's spellings (`cnn`, `efficientnet-b0`, ...); the variant
/// names written by run format 1 (`Cnn`, `EfficientNetB0`, ...) are still read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClassifierKind {
    /// [`CompactCnn`].
    #[serde(rename = "cnn", alias = "Cnn")]
    Cnn,
    /// EfficientNet-B0 with attention pooling.
    #[serde(rename = "efficientnet-b0", alias = "EfficientNetB0")]
    EfficientNetB0,
    /// EfficientNet-B2 with attention pooling.
    #[serde(rename = "efficientnet-b2", alias = "EfficientNetB2")]
    EfficientNetB2,
}

impl ClassifierKind {
    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            ClassifierKind::Cnn => "cnn",
            ClassifierKind::EfficientNetB0 => "efficientnet-b0",
            ClassifierKind::EfficientNetB2 => "efficientnet-b2",
        }
    }
}

impl fmt::Display for ClassifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ClassifierKind {
    type Err = ModelError;

    fn from_str(s: &str) -> ModelResult<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "cnn" => Ok(ClassifierKind::Cnn),
            "efficientnet-b0" | "effnet-b0" | "b0" => Ok(ClassifierKind::EfficientNetB0),
            "efficientnet-b2" | "effnet-b2" | "b2" => Ok(ClassifierKind::EfficientNetB2),
            _ => Err(ModelError::UnknownModel(s.to_string())),
        }
    }
}

/// Configuration of any classifier.
#[derive(Config, Debug)]
pub struct ClassifierConfig {
    /// Which classifier.
    pub kind: ClassifierKind,
    /// Input channels.
    pub in_channels: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// Width of the compact CNN's first block.
    #[config(default = 16)]
    pub cnn_width: usize,
    /// Dropout before the compact CNN's classifier; for EfficientNet, the drop-connect rate of
    /// the last MBConv block (the reference's `drop_connect_rate`, also 0.2).
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Attention heads of EfficientNet's PSLA pooling.
    #[config(default = 4)]
    pub attention_heads: usize,
    /// EfficientNet's output: logits (ours) or PSLA's probabilities.
    #[config(default = "ClassifierHead::Logits")]
    pub head: ClassifierHead,
}

impl ClassifierConfig {
    /// Builds the classifier.
    ///
    /// # Errors
    /// Zero channels, classes or attention heads, dropout outside `[0, 1)`, the PSLA head on
    /// the compact CNN.
    pub fn init(&self, device: &Device) -> ModelResult<Classifier> {
        if self.kind == ClassifierKind::Cnn && self.head != ClassifierHead::Logits {
            return Err(ModelError::Config(
                "the psla head is PSLA's EfficientNet head: use efficientnet-b0 or efficientnet-b2, or the logits head".into(),
            ));
        }
        if self.in_channels == 0 || self.n_classes == 0 {
            return Err(ModelError::Config(
                "in_channels and n_classes must be >= 1".into(),
            ));
        }
        if self.attention_heads == 0 {
            return Err(ModelError::Config("attention_heads must be >= 1".into()));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ModelError::Config(format!(
                "dropout {} is not in [0, 1)",
                self.dropout
            )));
        }
        Ok(match self.kind {
            ClassifierKind::Cnn => Classifier::Cnn(
                CompactCnnConfig::new(self.in_channels, self.n_classes)
                    .with_width(self.cnn_width)
                    .with_dropout(self.dropout)
                    .init(device),
            ),
            ClassifierKind::EfficientNetB0 => {
                Classifier::EfficientNetB0(self.efficientnet(EfficientNetVariant::B0, device))
            }
            ClassifierKind::EfficientNetB2 => {
                Classifier::EfficientNetB2(self.efficientnet(EfficientNetVariant::B2, device))
            }
        })
    }

    fn efficientnet(&self, variant: EfficientNetVariant, device: &Device) -> EfficientNet {
        EfficientNetConfig::new(variant, self.in_channels, self.n_classes)
            .with_heads(self.attention_heads)
            .with_drop_connect(self.dropout)
            .with_head(self.head)
            .init(device)
    }
}

/// Any classifier, as one module.
#[derive(Module, Debug)]
pub enum Classifier {
    /// See [`CompactCnn`].
    Cnn(CompactCnn),
    /// EfficientNet-B0 with PSLA attention pooling, see [`EfficientNet`].
    EfficientNetB0(EfficientNet),
    /// EfficientNet-B2 with PSLA attention pooling, see [`EfficientNet`].
    EfficientNetB2(EfficientNet),
}

impl Classifier {
    /// Class logits (probabilities with [`ClassifierHead::Psla`], see [`Classifier::head`]).
    ///
    /// # Shapes
    /// - `x`: `[B, C, t, F]`
    /// - output: `[B, n_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Classifier::Cnn(m) => m.forward(x),
            Classifier::EfficientNetB0(m) | Classifier::EfficientNetB2(m) => m.forward(x),
        }
    }

    /// The EfficientNet inside, if this is one.
    pub fn efficientnet(&self) -> Option<&EfficientNet> {
        match self {
            Classifier::EfficientNetB0(m) | Classifier::EfficientNetB2(m) => Some(m),
            Classifier::Cnn(_) => None,
        }
    }

    /// Logits or probabilities (the compact CNN always gives logits).
    pub fn head(&self) -> ClassifierHead {
        self.efficientnet()
            .map_or(ClassifierHead::Logits, |m| m.attention().head())
    }

    /// Which classifier this is.
    pub fn kind(&self) -> ClassifierKind {
        match self {
            Classifier::Cnn(_) => ClassifierKind::Cnn,
            Classifier::EfficientNetB0(_) => ClassifierKind::EfficientNetB0,
            Classifier::EfficientNetB2(_) => ClassifierKind::EfficientNetB2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cnn_handles_tiny_and_odd_inputs() {
        let device = Device::flex();
        let model = ClassifierConfig::new(ClassifierKind::Cnn, 1, 4)
            .init(&device)
            .unwrap();
        for (t, f) in [(1, 1), (3, 7), (25, 64), (100, 128)] {
            let logits = model.forward(Tensor::<4>::ones([2, 1, t, f], &device));
            assert_eq!(logits.dims(), [2, 4]);
        }
    }

    fn effnet(
        kind: ClassifierKind,
        channels: usize,
        classes: usize,
        device: &Device,
    ) -> Classifier {
        ClassifierConfig::new(kind, channels, classes)
            .init(device)
            .unwrap()
    }

    fn values(x: Tensor<2>) -> Vec<f32> {
        x.into_data().try_to_vec::<f32>().unwrap()
    }

    /// A fresh temporary path for this test.
    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("diffres-models-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn efficientnet_output_shapes() {
        let device = Device::flex();
        for kind in [
            ClassifierKind::EfficientNetB0,
            ClassifierKind::EfficientNetB2,
        ] {
            for channels in [1, 3] {
                let model = effnet(kind, channels, 3, &device);
                assert_eq!(model.kind(), kind);
                let logits = model.forward(Tensor::<4>::ones([1, channels, 32, 32], &device));
                assert_eq!(logits.dims(), [1, 3], "{kind} with {channels} channels");
                assert!(values(logits).iter().all(|v| v.is_finite()));
            }
        }
    }

    #[test]
    fn efficientnet_handles_tiny_inputs() {
        let device = Device::flex();
        let b0 = effnet(ClassifierKind::EfficientNetB0, 1, 3, &device);
        for (t, f) in [(1, 1), (3, 8), (8, 3), (2, 33)] {
            let input = Tensor::<4>::random(
                [2, 1, t, f],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &device,
            );
            assert_eq!(b0.forward(input).dims(), [2, 3], "t {t} F {f}");
        }
        let net = b0.efficientnet().unwrap();
        // "Same" padding: five stride-2 stages, ceil(33 / 32) = 2, ceil(3 / 32) = 1.
        let features = net
            .backbone()
            .forward(Tensor::<4>::zeros([1, 1, 33, 3], &device));
        assert_eq!(features.dims(), [1, 1280, 2, 1]);
        let b2 = effnet(ClassifierKind::EfficientNetB2, 3, 3, &device);
        assert_eq!(
            b2.forward(Tensor::<4>::ones([1, 3, 3, 8], &device)).dims(),
            [1, 3]
        );
    }

    #[test]
    fn efficientnet_parameter_counts() {
        let device = Device::flex();
        let count = |kind, channels, classes| {
            let model = effnet(kind, channels, classes, &device);
            let net = model.efficientnet().unwrap();
            (
                trainable_params(net.backbone()),
                trainable_params(net.attention()),
                trainable_params(&model),
            )
        };
        // Backbones: the reference's 5,288,548 (B0) and 9,109,994 (B2) less the ImageNet FC
        // (1280 x 1000 + 1000 and 1408 x 1000 + 1000), 3-channel stem.
        assert_eq!(
            count(ClassifierKind::EfficientNetB0, 3, 527).0,
            5_288_548 - 1_281_000
        );
        assert_eq!(
            count(ClassifierKind::EfficientNetB2, 3, 527).0,
            9_109_994 - 1_409_000
        );
        // A 1-channel stem has 2 x 9 x 32 = 576 weights fewer.
        let (backbone, attention, total) = count(ClassifierKind::EfficientNetB2, 1, 527);
        assert_eq!(backbone, 7_700_418);
        assert_eq!(attention, 8 * (1408 * 527 + 527) + 4);
        // PSLA's EfficientNet-B2 + 4-head attention, 527 classes: "13.6 M".
        assert_eq!(total, 13_640_766);
        let (backbone, attention, total) = count(ClassifierKind::EfficientNetB0, 1, 527);
        assert_eq!(
            (backbone, attention, total),
            (4_006_972, 5_400_700, 9_407_672)
        );
        assert_eq!(count(ClassifierKind::EfficientNetB2, 3, 527).2, 13_641_342);
    }

    #[test]
    fn weights_round_trip_gives_identical_logits() {
        let device = Device::flex();
        let path = temp("round-trip.safetensors");
        let input = Tensor::<4>::random(
            [2, 3, 16, 24],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        for kind in [ClassifierKind::Cnn, ClassifierKind::EfficientNetB0] {
            let source = effnet(kind, 3, 3, &device);
            save_weights(&source, &path).unwrap();
            let fresh = effnet(kind, 3, 3, &device);
            assert_ne!(
                values(fresh.forward(input.clone())),
                values(source.forward(input.clone()))
            );
            let (loaded, report) = load_weights_with_report(fresh, &path).unwrap();
            assert!(report.is_complete() && report.unused.is_empty(), "{report}");
            assert_eq!(
                values(loaded.forward(input.clone())),
                values(source.forward(input.clone())),
                "{kind}"
            );
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn loading_a_missing_or_corrupt_file_is_a_weights_error() {
        let device = Device::flex();
        let model = || effnet(ClassifierKind::Cnn, 1, 3, &device);
        let missing = temp("does-not-exist.safetensors");
        let err = load_weights(model(), &missing).unwrap_err();
        assert!(
            matches!(&err, ModelError::Weights { path, .. } if path.contains("does-not-exist")),
            "{err}"
        );

        let corrupt = temp("corrupt.safetensors");
        std::fs::write(&corrupt, b"this is not a safetensors file").unwrap();
        let err = load_weights(model(), &corrupt).unwrap_err();
        assert!(matches!(err, ModelError::Weights { .. }), "{err}");

        // A valid header whose data is cut short.
        let truncated = temp("truncated.safetensors");
        save_weights(&model(), &truncated).unwrap();
        let bytes = std::fs::read(&truncated).unwrap();
        std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
        let err = load_weights(model(), &truncated).unwrap_err();
        assert!(matches!(err, ModelError::Weights { .. }), "{err}");

        // A directory is not a weights file.
        let err = load_weights(model(), &std::env::temp_dir()).unwrap_err();
        assert!(matches!(err, ModelError::Weights { .. }), "{err}");
        for p in [corrupt, truncated] {
            std::fs::remove_file(p).unwrap();
        }
    }

    #[test]
    fn weights_of_another_model_are_an_error() {
        let device = Device::flex();
        let path = temp("b0-for-b2.safetensors");
        save_weights(
            &effnet(ClassifierKind::EfficientNetB0, 1, 3, &device),
            &path,
        )
        .unwrap();
        for kind in [ClassifierKind::EfficientNetB2, ClassifierKind::Cnn] {
            let err = load_weights(effnet(kind, 1, 3, &device), &path).unwrap_err();
            match &err {
                ModelError::Weights { reason, .. } => {
                    assert!(reason.contains("no tensor matches"), "{err}")
                }
                other => panic!("{other}"),
            }
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn another_head_loads_the_backbone_and_reports_the_rest() {
        let device = Device::flex();
        let path = temp("other-head.safetensors");
        let source = effnet(ClassifierKind::EfficientNetB0, 1, 10, &device);
        save_weights(&source, &path).unwrap();
        let target = effnet(ClassifierKind::EfficientNetB0, 1, 3, &device);
        let (loaded, report) = load_weights_with_report(target, &path).unwrap();
        // 4 heads x (att, cla) x (weight, bias) have other shapes; head_weight [4] matches.
        assert_eq!(report.skipped.len(), 16, "{report}");
        assert!(
            report
                .skipped
                .iter()
                .all(|s| s.starts_with("EfficientNetB0.attention.")),
            "{report}"
        );
        assert!(
            report.missing.is_empty() && report.unused.is_empty(),
            "{report}"
        );
        assert!(!report.is_complete());
        let features = |m: &Classifier| {
            let net = m.efficientnet().unwrap();
            let x = Tensor::<4>::ones([1, 1, 16, 16], &device);
            net.backbone()
                .forward(x)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        assert_eq!(features(&loaded), features(&source));
        assert_eq!(
            loaded
                .forward(Tensor::<4>::ones([1, 1, 16, 16], &device))
                .dims(),
            [1, 3]
        );

        // A backbone-only file: the attention tensors are reported missing.
        let backbone_only = temp("backbone-only.safetensors");
        let mut store = burn::store::SafetensorsStore::from_file(&backbone_only)
            .with_regex(r"\.backbone\.")
            .overwrite(true);
        burn::store::ModuleSnapshot::save_into(&source, &mut store).unwrap();
        let target = effnet(ClassifierKind::EfficientNetB0, 1, 3, &device);
        let (loaded, report) = load_weights_with_report(target, &backbone_only).unwrap();
        assert_eq!(report.missing.len(), 17, "{report}");
        assert!(
            report.skipped.is_empty() && report.unused.is_empty(),
            "{report}"
        );
        assert_eq!(features(&loaded), features(&source));
        for p in [path, backbone_only] {
            std::fs::remove_file(p).unwrap();
        }
    }

    #[test]
    fn loaded_weights_train_on_an_autodiff_device() {
        use burn::optim::GradientsParams;
        let device = Device::flex().autodiff();
        device.seed(7);
        let path = temp("autodiff.safetensors");
        save_weights(
            &effnet(ClassifierKind::EfficientNetB0, 1, 3, &device),
            &path,
        )
        .unwrap();
        let loaded =
            load_weights(effnet(ClassifierKind::EfficientNetB0, 1, 3, &device), &path).unwrap();
        let grad_count = |model: &Classifier| {
            let x = Tensor::<4>::random(
                [2, 1, 32, 32],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &device,
            );
            let loss = model.forward(x).powi_scalar(2).mean();
            GradientsParams::from_grads(loss.backward(), model).len()
        };
        let fresh = effnet(ClassifierKind::EfficientNetB0, 1, 3, &device);
        let expected = grad_count(&fresh);
        assert!(expected > 100);
        assert_eq!(grad_count(&loaded), expected);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            "EfficientNet-B2".parse::<ClassifierKind>().unwrap(),
            ClassifierKind::EfficientNetB2
        );
        assert!("resnet".parse::<ClassifierKind>().is_err());
    }
}
