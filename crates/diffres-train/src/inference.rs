//! Using a trained run: evaluate it on a dataset, predict labels for audio files.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use diffres_audio::{FeatureExtractor, FrontEndConfig};
use diffres_data::{load_dataset, Split};
use diffres_report::Evaluation;
use serde::{Deserialize, Serialize};

use crate::data::{load_options, prepare_dataset};
use crate::error::{Result, TrainError};
use crate::model::AudioModel;
use crate::run::{write_json, RunDir, RunInfo};
use crate::trainer::{evaluate_probs, load_checkpoint, predict_clips};

/// A trained run, ready for inference (best checkpoint, inference mode).
pub struct LoadedRun {
    /// The run folder.
    pub dir: RunDir,
    /// Its `config.json`.
    pub info: RunInfo,
    /// The model with its best weights.
    pub model: AudioModel,
    /// The device it runs on.
    pub device: Device,
}

/// Loads a run folder's best checkpoint.
///
/// # Errors
/// A missing or incompatible run folder, or a checkpoint that does not fit its config.
pub fn load_run(dir: &Path) -> Result<LoadedRun> {
    let run = RunDir::new(dir);
    let info = run.read_info()?;
    let device =
        crate::model::device(&info.config.device).or_else(|_| crate::model::device("cpu"))?;
    let model = AudioModel::new(&info.config, info.classes.len(), &device)?;
    let model = load_checkpoint(model, &run.best())?;
    Ok(LoadedRun {
        dir: run,
        info,
        model,
        device,
    })
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
    visible: bool,
) -> Result<EvalReport> {
    let mut cfg = run.info.config.clone();
    if let Some(path) = data {
        cfg.data = path.to_path_buf();
        cfg.format = "auto".into();
    }
    let mut dataset = load_dataset(&cfg.data, &load_options(&cfg)?)?;
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
    // Every clip counts as test data of the foreign dataset if it has no test split.
    let split = if dataset.clips.iter().any(|c| c.split == Split::Test) {
        Split::Test
    } else {
        Split::Train
    };
    let prepared = prepare_dataset_for_eval(dataset, split, &cfg, cache, run.info.frames, visible)?;
    let clips = prepared.indices(split);
    if clips.is_empty() {
        return Err(TrainError::Config(format!(
            "no readable clip to evaluate in {}",
            cfg.data.display()
        )));
    }
    let (probs, _) = predict_clips(
        &run.model,
        &prepared,
        &clips,
        cfg.batch_size,
        cfg.variable_length,
        &run.device,
    )?;
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
    visible: bool,
) -> Result<crate::data::PreparedData> {
    // prepare_dataset insists on training clips; evaluation only needs readable ones.
    dataset.clips.retain(|c| c.split == split);
    for clip in &mut dataset.clips {
        clip.split = Split::Train;
    }
    let mut prepared = prepare_dataset(dataset, cfg, cache, Some(frames), visible)?;
    for clip in &mut prepared.dataset.clips {
        clip.split = split;
    }
    Ok(prepared)
}

/// Top-k predictions for one file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Prediction {
    /// The file.
    pub file: PathBuf,
    /// `(label, probability)`, most probable first.
    pub top: Vec<(String, f32)>,
}

/// Log-mel features of files with a run's front-end settings, padded or cropped to its frames.
///
/// # Errors
/// The first unreadable file.
pub fn features_for_files(
    info: &RunInfo,
    files: &[PathBuf],
) -> Result<Vec<diffres_audio::Features>> {
    let extractor = FeatureExtractor::new(
        FrontEndConfig {
            log_mel: info.config.log_mel(),
            frames: Some(info.frames),
        },
        None,
    )?;
    extractor
        .extract_many(files, None)
        .into_iter()
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Into::into)
}

/// Predicts the `top_k` labels of each file.
///
/// # Errors
/// Unreadable files or front-end errors.
pub fn predict_files(run: &LoadedRun, files: &[PathBuf], top_k: usize) -> Result<Vec<Prediction>> {
    let features = features_for_files(&run.info, files)?;
    let (frames, mels) = (run.info.frames, run.info.config.mels);
    let mut out = Vec::with_capacity(files.len());
    for (file, f) in files.iter().zip(features) {
        let x =
            Tensor::<3>::from_data(TensorData::new(f.spec.data, [1, frames, mels]), &run.device);
        let lengths = [f.valid_frames.max(1)];
        let lengths = run.info.config.variable_length.then_some(&lengths[..]);
        let (logits, _) = run.model.forward(x, lengths)?;
        let probs = crate::trainer::probabilities(run.info.multi_label, logits);
        let mut ranked: Vec<(String, f32)> = run.info.classes.iter().cloned().zip(probs).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(top_k.max(1));
        out.push(Prediction {
            file: file.clone(),
            top: ranked,
        });
    }
    Ok(out)
}
