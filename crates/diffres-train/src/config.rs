//! What a training run is: every option, saved as `config.json` in the run folder.

use std::path::PathBuf;

use diffres::FrontEndKind;
use diffres_audio::{FeatureConfig, FeatureKind, Normalization};
use diffres_models::{ClassifierHead, ClassifierKind};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Result, TrainError};
pub use crate::schedule::LrSchedule;

/// Version of the run-folder layout written by this tool.
///
/// - 2: checkpoints and optimizer states end in a SHA-256 trailer, `state.json` carries the
///   SHA-256 of its content, `config.json` uses the command line's spellings (`exact`, `cnn`).
/// - 1: no checksums; `config.json` spells kinds as Rust variants (`ExactSum`, `Cnn`).
///
/// Runs of every version from [`OLDEST_RUN_FORMAT_VERSION`] on are read (evaluated,
/// predicted with and resumed); others are refused with an error naming their version.
pub const RUN_FORMAT_VERSION: u32 = 2;

/// Oldest run-folder layout this tool still reads.
pub const OLDEST_RUN_FORMAT_VERSION: u32 = 1;

/// The class re-balancing sampler as a user chooses it: on, off, or automatic (on for
/// multi-label data). [`TrainConfig::balance`] stores it as `Option<bool>` (`None` = auto).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Balance {
    /// On for multi-label data only.
    #[default]
    Auto,
    /// Always on.
    On,
    /// Always off.
    Off,
}

impl From<Balance> for Option<bool> {
    fn from(b: Balance) -> Self {
        match b {
            Balance::Auto => None,
            Balance::On => Some(true),
            Balance::Off => Some(false),
        }
    }
}

impl From<Option<bool>> for Balance {
    fn from(b: Option<bool>) -> Self {
        match b {
            None => Balance::Auto,
            Some(true) => Balance::On,
            Some(false) => Balance::Off,
        }
    }
}

impl std::fmt::Display for Balance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Balance::Auto => "auto",
            Balance::On => "on",
            Balance::Off => "off",
        })
    }
}

impl std::str::FromStr for Balance {
    type Err = TrainError;

    /// `auto`, `on` (`true`, `yes`) or `off` (`false`, `no`).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Balance::Auto),
            "on" | "true" | "yes" => Ok(Balance::On),
            "off" | "false" | "no" => Ok(Balance::Off),
            other => Err(TrainError::Config(format!(
                "balance '{other}': expected auto, on or off"
            ))),
        }
    }
}

/// Default seed of every command (training, the demo, the synthetic data, experiments).
pub const DEFAULT_SEED: u64 = 1;

fn one() -> usize {
    1
}

fn default_empty_eps() -> f64 {
    diffres::DEFAULT_EMPTY_EPS
}

fn default_log_every() -> usize {
    crate::steps::DEFAULT_LOG_EVERY
}

fn default_adam_beta1() -> f64 {
    DEFAULT_ADAM_BETA1
}

/// Adam's default beta1 (PyTorch's and Burn's).
pub const DEFAULT_ADAM_BETA1: f64 = 0.9;

/// Mixup rate `--mixup` alone means (PSLA's default recipe value).
pub const DEFAULT_MIXUP_RATE: f64 = 0.5;

/// `mixup` as runs of every format wrote it: a rate, or a switch (`true` = 0.5).
fn bool_or_rate<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Mixup {
        Switch(bool),
        Rate(f64),
    }
    Ok(match Mixup::deserialize(d)? {
        Mixup::Switch(true) => DEFAULT_MIXUP_RATE,
        Mixup::Switch(false) => 0.0,
        Mixup::Rate(r) => r,
    })
}

fn default_guide_lambda() -> f64 {
    diffres::DEFAULT_GUIDE_LAMBDA
}

/// `init` as runs of every format wrote it: absent or `null`, one path (before `--init` could
/// be repeated), or a list of paths.
fn one_or_many_paths<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Paths {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match Option::<Paths>::deserialize(d)? {
        None => Vec::new(),
        Some(Paths::One(p)) => vec![p],
        Some(Paths::Many(v)) => v,
    })
}

/// Every option of a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Run-folder layout version.
    pub format_version: u32,
    /// Dataset path.
    pub data: PathBuf,
    /// Dataset layout (`auto`, `folders`, `csv`, `esc50`, `speech-commands`, `fsdd`,
    /// `audioset`, `fsd50k`, `nsynth`).
    pub format: diffres_data::Format,
    /// Validation fraction where the dataset has no split of its own.
    pub val_fraction: f64,
    /// Test fraction where the dataset has no split of its own.
    pub test_fraction: f64,
    /// ESC-50 test fold.
    pub fold: Option<u32>,
    /// Front end.
    pub frontend: FrontEndKind,
    /// Fraction of frames removed, `delta` (0 for identity).
    pub reduction: f64,
    /// Hop in milliseconds.
    pub hop_ms: f32,
    /// Mel bins.
    pub mels: usize,
    /// Input features: librosa-style log-mel or Kaldi filterbanks (PSLA's); with a learnable
    /// [`Self::filterbank`] the waveform, whatever this says.
    #[serde(default)]
    pub features: FeatureKind,
    /// The filterbank: `mel` (the fixed features above) or a learnable one from the waveform
    /// (`tdfbank`, `sincnet`, `leaf`; `mels` filters), trained with the model.
    #[serde(default)]
    pub filterbank: crate::filterbank::FilterbankKind,
    /// PSLA's dataset normalisation `(x - mean) / (2 std)` of the features, if any.
    #[serde(default)]
    pub normalize: Option<Normalization>,
    /// DiffRes score normalisation: `exact` (sum t, the default) or `reference` (the authors').
    #[serde(default)]
    pub score_norm: diffres::ScoreNormalization,
    /// DiffRes importance-network dilation growth (1 = the paper's 41-frame receptive field).
    #[serde(default = "one")]
    pub dilation: usize,
    /// DiffRes guide loss: a frame is empty below this fraction of the loudest frame's energy.
    #[serde(default = "default_empty_eps")]
    pub empty_eps: f64,
    /// DiffRes guide-loss threshold λ (paper eq. 7; appendix A.2 says it may need tuning).
    #[serde(default = "default_guide_lambda")]
    pub guide_lambda: f64,
    /// DiffRes ablation: the aggregations output (`mean`, `max`, `mean,max`).
    #[serde(default)]
    pub aggregation: diffres::Aggregation,
    /// DiffRes ablation: leave the resolution encoding channel out.
    #[serde(default)]
    pub no_resolution_encoding: bool,
    /// DiffRes ablation: `full` (equation 5 and Algorithm 1) or `eq5` (equation 5 alone).
    #[serde(default)]
    pub warp: diffres::WarpKind,
    /// Input frames per clip (pad or crop); `None` = the longest training clip, at most
    /// [`crate::data::MAX_AUTO_SECONDS`] of audio; cropped clips are reported.
    pub frames: Option<usize>,
    /// Pass each clip's true length to the front end instead of treating padding as signal.
    pub variable_length: bool,
    /// Sample rate the audio is resampled to.
    pub sample_rate: u32,
    /// Classifier.
    pub model: ClassifierKind,
    /// Width of the compact CNN.
    pub cnn_width: usize,
    /// Dropout before the compact CNN's classifier, or EfficientNet's drop-connect rate (0
    /// turns them off, e.g. to compare devices step by step).
    #[serde(default = "default_dropout")]
    pub dropout: f64,
    /// EfficientNet's output: logits (ours) or PSLA's probabilities (trained with BCE on them).
    #[serde(default)]
    pub head: ClassifierHead,
    /// Checkpoints that initialise the model, in order (see [`crate::init`]): run folders or
    /// their `.bpk` files, PyTorch `.pth` files (PSLA, `efficientnet_pytorch`, pydiffres) and
    /// safetensors files.
    #[serde(default, deserialize_with = "one_or_many_paths")]
    pub init: Vec<PathBuf>,
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Optional step schedule.
    pub lr_schedule: Option<LrSchedule>,
    /// Seed of everything random.
    pub seed: u64,
    /// SpecAugment: one frequency and one time mask per clip (widths: [`Self::freq_mask`],
    /// [`Self::time_mask`]).
    pub specaugment: bool,
    /// SpecAugment's widest frequency mask in bins (`None`: 37.5% of the bins); PSLA's
    /// `--freqm`.
    #[serde(default)]
    pub freq_mask: Option<usize>,
    /// SpecAugment's widest time mask in frames (`None`: half the clip's valid frames);
    /// PSLA's `--timem`.
    #[serde(default)]
    pub time_mask: Option<usize>,
    /// Mixup rate: the probability that a clip is mixed with another (0 = off; PSLA's
    /// `--mixup`). Runs written before the rate existed stored `true` (0.5) or `false`.
    #[serde(deserialize_with = "bool_or_rate")]
    pub mixup: f64,
    /// What mixup mixes: the log-mel features or the waveforms (PSLA's way).
    #[serde(default)]
    pub mixup_on: crate::batch::MixupDomain,
    /// Classification loss: `auto`, `bce` (also for single-label tasks, the paper's eq. 8) or
    /// `ce`.
    #[serde(default)]
    pub loss: crate::loss::LossKind,
    /// Compute the normalisation from the training clips' features when [`Self::normalize`] is
    /// not given; the values used are then stored in `normalize`.
    #[serde(default)]
    pub normalize_from_training: bool,
    /// Weight averaging: the evaluated model is the mean of the weights of every epoch from
    /// this one (1-based) to the last (PSLA's `--wa_start`).
    #[serde(default)]
    pub average_from: Option<usize>,
    /// Warm-up: the learning rate grows from 0 over this many steps (0 = none; PSLA: 1000).
    #[serde(default)]
    pub warmup_steps: usize,
    /// Adam's beta1 (PyTorch's and Burn's default 0.9; PSLA 0.95).
    #[serde(default = "default_adam_beta1")]
    pub adam_beta1: f64,
    /// Adam's L2 weight decay, added to the gradient as PyTorch's `Adam(weight_decay=...)`
    /// (PSLA 5e-7).
    #[serde(default)]
    pub weight_decay: f64,
    /// The recipe the options came from, if any (its values are the fields themselves).
    #[serde(default)]
    pub recipe: Option<crate::recipe::Recipe>,
    /// Weight of DiffRes's guide loss (the paper adds it with weight 1).
    pub guide_weight: f64,
    /// Class re-balancing sampler; `None` = on for multi-label data only.
    pub balance: Option<bool>,
    /// Fail on the first unreadable audio file instead of skipping it.
    pub strict: bool,
    /// `cpu`, or `wgpu`/`vulkan` in builds with that feature.
    pub device: crate::model::ComputeDevice,
    /// Steps between two lines of `steps.jsonl`.
    #[serde(default = "default_log_every")]
    pub log_every: usize,
    /// Stream features from the feature cache batch by batch instead of holding them in
    /// memory (also chosen by itself above [`crate::data::MEMORY_BUDGET_BYTES`]).
    #[serde(default)]
    pub stream: bool,
}

/// The classifiers' dropout (and drop-connect) rate: [`ClassifierConfig`]'s default.
///
/// [`ClassifierConfig`]: diffres_models::ClassifierConfig
fn default_dropout() -> f64 {
    diffres_models::ClassifierConfig::new(ClassifierKind::Cnn, 1, 1).dropout
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            format_version: RUN_FORMAT_VERSION,
            data: PathBuf::new(),
            format: diffres_data::Format::Auto,
            val_fraction: 0.1,
            test_fraction: 0.1,
            fold: None,
            frontend: FrontEndKind::DiffRes,
            reduction: 0.75,
            hop_ms: 10.0,
            mels: 128,
            features: FeatureKind::LogMel,
            filterbank: crate::filterbank::FilterbankKind::Mel,
            normalize: None,
            score_norm: diffres::ScoreNormalization::ExactSum,
            dilation: 1,
            empty_eps: diffres::DEFAULT_EMPTY_EPS,
            guide_lambda: diffres::DEFAULT_GUIDE_LAMBDA,
            aggregation: diffres::Aggregation::MeanMax,
            no_resolution_encoding: false,
            warp: diffres::WarpKind::Full,
            frames: None,
            variable_length: false,
            sample_rate: 16_000,
            model: ClassifierKind::Cnn,
            cnn_width: 16,
            dropout: default_dropout(),
            head: ClassifierHead::Logits,
            init: Vec::new(),
            epochs: 10,
            batch_size: 32,
            lr: 1e-3,
            lr_schedule: None,
            seed: DEFAULT_SEED,
            specaugment: false,
            freq_mask: None,
            time_mask: None,
            mixup: 0.0,
            mixup_on: crate::batch::MixupDomain::LogMel,
            loss: crate::loss::LossKind::Auto,
            normalize_from_training: false,
            average_from: None,
            warmup_steps: 0,
            adam_beta1: DEFAULT_ADAM_BETA1,
            weight_decay: 0.0,
            recipe: None,
            guide_weight: 1.0,
            balance: None,
            strict: false,
            device: crate::model::ComputeDevice::Cpu,
            stream: false,
            log_every: crate::steps::DEFAULT_LOG_EVERY,
        }
    }
}

impl TrainConfig {
    /// Checks ranges and consistency.
    ///
    /// # Errors
    /// The first problem found, naming the option.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(TrainError::Config(msg));
        diffres::check_delta(self.reduction).map_err(|_| {
            TrainError::Config(format!(
                "--reduction {} is out of range: it must be in [0, 1)",
                self.reduction
            ))
        })?;
        if self.frontend != FrontEndKind::Identity && self.reduction == 0.0 {
            return bad(format!(
                "--reduction 0 keeps every frame: use --frontend identity instead of {}",
                self.frontend
            ));
        }
        if !(1.0..=40.0).contains(&self.hop_ms) {
            return bad(format!("--hop-ms {} is out of range 1..=40", self.hop_ms));
        }
        if self.mels == 0 || self.mels > 512 {
            return bad(format!("--mels {} is out of range 1..=512", self.mels));
        }
        if self.log_every == 0 {
            return bad("--log-every must be at least 1".into());
        }
        if self.epochs == 0 || self.batch_size == 0 {
            return bad("--epochs and --batch-size must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("--lr {} must be positive", self.lr));
        }
        if !(0.0..1.0).contains(&self.val_fraction)
            || !(0.0..1.0).contains(&self.test_fraction)
            || self.val_fraction + self.test_fraction >= 1.0
        {
            return bad(
                "--val-fraction and --test-fraction must be in [0, 1) and sum below 1".into(),
            );
        }
        if let Some(frames) = self.frames {
            if frames == 0 {
                return bad("--frames must be at least 1".into());
            }
            if self.frontend != FrontEndKind::Identity {
                diffres::output_frames(frames, self.reduction)?;
            }
        }
        diffres::check_dilation(self.dilation)
            .map_err(|e| TrainError::Config(format!("--dilation: {e}")))?;
        if !(self.empty_eps > 0.0 && self.empty_eps < 1.0) {
            return bad(format!("--empty-eps {} must be in (0, 1)", self.empty_eps));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(TrainError::Config(format!(
                "--dropout {}: expected a rate in [0, 1)",
                self.dropout
            )));
        }
        if !(self.guide_weight >= 0.0 && self.guide_weight.is_finite()) {
            return bad("--guide-weight must be >= 0".into());
        }
        if !(self.guide_lambda >= 0.0 && self.guide_lambda.is_finite()) {
            return bad(format!("--guide-lambda {} must be >= 0", self.guide_lambda));
        }
        if self.frontend != FrontEndKind::DiffRes {
            if let Some(flag) = self.ablation_flags().first() {
                return bad(format!(
                    "{flag} is a DiffRes ablation: it does not apply to --frontend {}",
                    self.frontend
                ));
            }
        }
        if self.head == ClassifierHead::Psla && self.model == ClassifierKind::Cnn {
            return bad(
                "--head psla is PSLA's EfficientNet head: use --model efficientnet-b0 or efficientnet-b2".into(),
            );
        }
        if !(0.0..=1.0).contains(&self.mixup) {
            return bad(format!("--mixup {}: expected a rate in [0, 1]", self.mixup));
        }
        if let Some(from) = self.average_from {
            if from == 0 || from > self.epochs {
                let hint = match self.recipe {
                    Some(r) => format!(" (recipe {r} sets it: give --average-from too)"),
                    None => String::new(),
                };
                return bad(format!(
                    "--average-from {from}: expected an epoch from 1 to --epochs ({}){hint}",
                    self.epochs
                ));
            }
        }
        if !(0.0..1.0).contains(&self.adam_beta1) {
            return bad(format!("--adam-beta1 {}: expected [0, 1)", self.adam_beta1));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad(format!("--weight-decay {} must be >= 0", self.weight_decay));
        }
        // What the loss and head allow whatever the task (multi-label data is checked when
        // the data is loaded).
        crate::loss::OutputKind::new(self.loss, self.head, false)?;
        if let Some(n) = &self.normalize {
            n.validate()
                .map_err(|e| TrainError::Config(format!("--normalize: {e}")))?;
        }
        if self.filterbank.is_learned() {
            let fb = format!("--filterbank {}", self.filterbank);
            if self.features != FeatureKind::LogMel {
                return bad(format!(
                    "{fb} learns from the waveform: --features {} does not apply",
                    self.features
                ));
            }
            if self.normalize.is_some() || self.normalize_from_training {
                return bad(format!(
                    "{fb} learns from the waveform: --normalize is for spectrograms"
                ));
            }
            if self.specaugment {
                return bad(format!(
                    "{fb}: SpecAugment masks a spectrogram, and this run has none before the model"
                ));
            }
        }
        self.feature_config()
            .validate()
            .map_err(|e| TrainError::Config(format!("--features {}: {e}", self.features)))?;
        Ok(())
    }

    /// The DiffRes ablation options set away from the paper's settings, as flags.
    pub fn ablation_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if self.aggregation != diffres::Aggregation::MeanMax {
            flags.push(format!("--aggregation {}", self.aggregation));
        }
        if self.no_resolution_encoding {
            flags.push("--no-resolution-encoding".into());
        }
        if self.warp != diffres::WarpKind::Full {
            flags.push(format!("--warp {}", self.warp));
        }
        flags
    }

    /// This configuration without DiffRes's ablations (the paper's settings), for the
    /// baselines of a grid that ablates DiffRes.
    pub fn without_ablations(&self) -> TrainConfig {
        TrainConfig {
            aggregation: diffres::Aggregation::MeanMax,
            no_resolution_encoding: false,
            warp: diffres::WarpKind::Full,
            ..self.clone()
        }
    }

    /// The feature extraction of this run (variable length: padding is the data's business):
    /// the waveform for a learnable filterbank.
    pub fn feature_config(&self) -> FeatureConfig {
        FeatureConfig {
            log_mel: self.log_mel(),
            frames: None,
            kind: if self.filterbank.is_learned() {
                FeatureKind::Waveform
            } else {
                self.features
            },
            normalize: self.normalize,
        }
    }

    /// Rows of input per frame at the hop: 1 for spectrograms, the hop in samples for the
    /// waveform of a learnable filterbank.
    pub fn rows_per_frame(&self) -> usize {
        if self.filterbank.is_learned() {
            self.filterbank_geometry().hop
        } else {
            1
        }
    }

    /// The learnable filterbank's geometry at this run's filters, rate and hop.
    pub fn filterbank_geometry(&self) -> crate::filterbank::FilterbankGeometry {
        crate::filterbank::FilterbankGeometry::new(self.mels, self.sample_rate, self.hop_ms)
    }

    /// Frames the temporal front end receives for `rows` input rows: the rows themselves for
    /// spectrograms, `ceil(rows / hop)` after a learnable filterbank.
    pub fn frames_of_rows(&self, rows: usize) -> usize {
        if self.filterbank.is_learned() {
            diffres_filterbanks::output_frames(rows, self.rows_per_frame())
        } else {
            rows
        }
    }

    /// The value padding frames get (silence of the features, normalised).
    pub fn pad_value(&self) -> f32 {
        self.feature_config().pad_value()
    }

    /// The log-mel settings of this run.
    pub fn log_mel(&self) -> diffres_audio::LogMelConfig {
        diffres_audio::LogMelConfig::default()
            .with_sample_rate(self.sample_rate)
            .with_n_mels(self.mels)
            .with_hop_ms(self.hop_ms)
    }

    /// Learning rate of a 1-based epoch (its scheduled rate, before warm-up).
    pub fn lr_at(&self, epoch: usize) -> f64 {
        self.lr * self.lr_schedule.map_or(1.0, |s| s.factor(epoch))
    }

    /// Learning rate of a training step: the epoch's rate times the warm-up's factor at the
    /// 0-based global `step` (see [`crate::schedule`]).
    pub fn lr_at_step(&self, epoch: usize, step: usize) -> f64 {
        self.lr_at(epoch) * crate::schedule::warmup_factor(step, self.warmup_steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduction_is_checked() {
        let mut c = TrainConfig {
            reduction: 1.0,
            ..Default::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--reduction 1"));
        c.reduction = 0.5;
        assert!(c.validate().is_ok());
        c.frames = Some(1);
        assert!(c.validate().is_err());
    }

    #[test]
    fn new_options_default_in_old_configs_and_are_checked() {
        let mut json = serde_json::to_value(TrainConfig::default()).unwrap();
        let map = json.as_object_mut().unwrap();
        for key in [
            "features",
            "normalize",
            "head",
            "guide_lambda",
            "aggregation",
            "no_resolution_encoding",
            "warp",
            "log_every",
            "freq_mask",
            "time_mask",
            "mixup_on",
            "loss",
            "normalize_from_training",
            "average_from",
            "warmup_steps",
            "adam_beta1",
            "weight_decay",
            "recipe",
        ] {
            map.remove(key);
        }
        map.insert("init".into(), serde_json::Value::Null);
        map.insert("mixup".into(), false.into());
        let old: TrainConfig = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(old, TrainConfig::default());
        json["init"] = "weights.safetensors".into();
        json["mixup"] = true.into();
        let one: TrainConfig = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(one.init, vec![PathBuf::from("weights.safetensors")]);
        assert_eq!(one.mixup, DEFAULT_MIXUP_RATE);
        json["mixup"] = 0.6.into();
        let rate: TrainConfig = serde_json::from_value(json).unwrap();
        assert_eq!(rate.mixup, 0.6);
        let c = TrainConfig {
            average_from: Some(11),
            ..Default::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--average-from 11"));
        let c = TrainConfig {
            head: ClassifierHead::Psla,
            ..Default::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--head psla"));
        let c = TrainConfig {
            features: FeatureKind::Kaldi,
            normalize: Some(Normalization {
                mean: -4.0,
                std: 2.0,
            }),
            ..Default::default()
        };
        c.validate().unwrap();
        assert_eq!(c.pad_value(), 1.0);
        let c = TrainConfig {
            normalize: Some(Normalization {
                mean: 0.0,
                std: -1.0,
            }),
            ..Default::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--normalize"));
    }
}
