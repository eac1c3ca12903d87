//! Using a trained run: load it, evaluate it on a dataset (prediction is in [`crate::predict`]).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use diffres_audio::FeatureExtractor;
use diffres_data::{load_eval_dataset, Split};
use diffres_report::Evaluation;
use serde::{Deserialize, Serialize};

use crate::data::{load_options, prepare_dataset};
use crate::error::{Result, TrainError};
use crate::loss::OutputKind;
use crate::model::{AudioModel, ComputeDevice};
use crate::reporter::Reporter;
use crate::run::{write_json, RunDir, RunInfo};
use crate::trainer::{evaluate_probs, load_checkpoint, predict_clips, PassOptions};

pub use crate::predict::{predict_file, predict_paths, PredictOptions, Prediction};

/// A trained run, ready for inference (best checkpoint, inference mode).
pub struct LoadedRun {
    /// The run folder.
    pub dir: RunDir,
    /// Its `config.json`.
    pub info: RunInfo,
    /// The model with its evaluated weights ([`RunDir::evaluated_model`]).
    pub model: AudioModel,
    /// The device it runs on.
    pub device: Device,
    /// The run's feature extraction (no cache), built once for every file it reads.
    pub features: FeatureExtractor,
}

/// Loads a run folder's evaluated checkpoint ([`RunDir::evaluated_model`]: the weight average
/// with `--average-from`, else the best validation epoch's) onto the device it was trained on (or the CPU, in a
/// build without that device).
///
/// # Errors
/// A missing or incompatible run folder, or a checkpoint that does not fit its config.
pub fn load_run(dir: &Path) -> Result<LoadedRun> {
    load_run_on(dir, None)
}

/// [`load_run`] onto a chosen device (`None`: the run's own, or the CPU in a build without it).
/// Checkpoints hold plain values, so a run trained on one device runs on any other.
///
/// # Errors
/// As [`load_run`], and a GPU device in a build without its feature.
pub fn load_run_on(dir: &Path, device: Option<ComputeDevice>) -> Result<LoadedRun> {
    let run = RunDir::new(dir);
    let info = run.read_info()?;
    let device = match device {
        Some(kind) => crate::model::device(kind)?,
        None => crate::model::device(info.config.device)
            .or_else(|_| crate::model::device(ComputeDevice::Cpu))?,
    };
    let model = AudioModel::new(&info.config, info.classes.len(), &device)?;
    // Runs of format 1 have no checksums; newer ones must.
    let model = load_checkpoint(model, &run.evaluated_model(), info.format_version < 2)?;
    let features = FeatureExtractor::new(info.config.feature_config(), None)?;
    Ok(LoadedRun {
        dir: run,
        info,
        model,
        device,
        features,
    })
}

impl LoadedRun {
    /// What the run's model outputs (its probabilities and loss), from its head, loss and task.
    ///
    /// # Errors
    /// A `config.json` whose loss cannot apply to its task.
    pub fn output_kind(&self) -> Result<OutputKind> {
        OutputKind::new(
            self.info.config.loss,
            self.model.classifier.head(),
            self.info.multi_label,
        )
    }
}

/// `eval.json`: metrics of a run on a dataset split.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalReport {
    /// The dataset evaluated.
    pub data: PathBuf,
    /// The split evaluated.
    pub split: String,
    /// Primary metric name and value.
    pub metric: String,
    /// Primary metric value.
    pub value: f64,
    /// All metrics.
    pub metrics: Evaluation,
    /// Clips evaluated.
    pub clips: usize,
    /// Unreadable files skipped.
    pub skipped_files: usize,
}

/// Evaluates a run on the test split of its own dataset, or of `data` (which must use the
/// run's classes), and writes `eval.json` into the run folder.
///
/// # Errors
/// Dataset errors, labels unknown to the run, or no clip to evaluate.
pub fn evaluate_run(
    run: &LoadedRun,
    data: Option<&Path>,
    cache: Option<&Path>,
    reporter: &dyn Reporter,
) -> Result<EvalReport> {
    let mut cfg = run.info.config.clone();
    if let Some(path) = data {
        cfg.data = path.to_path_buf();
        cfg.format = diffres_data::Format::Auto;
    }
    // Evaluation rules: one class is fine and no validation split is carved.
    let mut dataset = load_eval_dataset(&cfg.data, &load_options(&cfg)?)?;
    // Map the dataset's classes onto the run's output order.
    let mut mapping = Vec::with_capacity(dataset.classes.len());
    for name in &dataset.classes {
        match run.info.classes.iter().position(|c| c == name) {
            Some(i) => mapping.push(i),
            None => {
                return Err(TrainError::Config(format!(
                    "label '{name}' of {} does not exist in the run's training classes ({})",
                    cfg.data.display(),
                    run.info.classes.join(", ")
                )))
            }
        }
    }
    for clip in &mut dataset.clips {
        clip.labels.iter_mut().for_each(|l| *l = mapping[*l]);
    }
    dataset.classes = run.info.classes.clone();
    dataset.multi_label = run.info.multi_label;
    // A foreign dataset without a test split is evaluated whole; the run's own dataset
    // without one has nothing held out to evaluate.
    let has_test = dataset.clips.iter().any(|c| c.split == Split::Test);
    let split = match (has_test, data.is_some()) {
        (true, _) => Split::Test,
        (false, true) => {
            for clip in &mut dataset.clips {
                clip.split = Split::Test;
            }
            Split::Test
        }
        (false, false) => {
            return Err(TrainError::Config(format!(
                "the run's dataset {} has no test split: pass --data to evaluate on another labelled dataset",
                cfg.data.display()
            )))
        }
    };
    let prepared =
        prepare_dataset_for_eval(dataset, split, &cfg, cache, run.info.frames, reporter)?;
    let clips = prepared.indices(split);
    if clips.is_empty() {
        return Err(TrainError::Config(format!(
            "no readable clip to evaluate in {}",
            cfg.data.display()
        )));
    }
    let pass = PassOptions {
        batch_size: cfg.batch_size,
        variable_length: cfg.variable_length,
        device: &run.device,
        output: run.output_kind()?,
    };
    let (probs, _) = predict_clips(&run.model, &prepared, &clips, pass)?;
    let metrics = evaluate_probs(&prepared, &clips, &probs);
    let (metric, value) = metrics.primary();
    let report = EvalReport {
        data: cfg.data.clone(),
        split: split.as_str().into(),
        metric: metric.into(),
        value,
        metrics,
        clips: clips.len(),
        skipped_files: prepared.skipped.len(),
    };
    write_json(&run.dir.root.join("eval.json"), &report)?;
    Ok(report)
}

/// Features of the clips of `split` only.
fn prepare_dataset_for_eval(
    mut dataset: diffres_data::Dataset,
    split: Split,
    cfg: &crate::config::TrainConfig,
    cache: Option<&Path>,
    frames: usize,
    reporter: &dyn Reporter,
) -> Result<crate::data::PreparedData> {
    // prepare_dataset insists on training clips; evaluation only needs readable ones.
    dataset.clips.retain(|c| c.split == split);
    for clip in &mut dataset.clips {
        clip.split = Split::Train;
    }
    let mut prepared = prepare_dataset(dataset, cfg, cache, Some(frames), reporter)?;
    for clip in &mut prepared.dataset.clips {
        clip.split = split;
    }
    Ok(prepared)
}

/// The whole (unpadded) features of a file with a run's feature settings, with the decoder's
/// warnings (a truncated file, say) in `warnings`.
///
/// # Errors
/// An unreadable file.
pub fn full_features(run: &LoadedRun, path: &Path) -> Result<diffres_audio::Features> {
    Ok(run.features.extract(path)?)
}
