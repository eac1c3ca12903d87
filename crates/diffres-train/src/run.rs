//! The run folder: what a training run writes, and how it is read back.
//!
//! ```text
//! DIR/config.json          RunInfo: the TrainConfig, resolved frames, classes
//! DIR/metrics.jsonl        one EpochMetrics per line
//! DIR/results.json         final test metrics (written last, atomically)
//! DIR/state.json           resume point: last finished epoch and its checkpoint files
//! DIR/checkpoints/best.bpk best validation epoch (Burn burnpack)
//! DIR/checkpoints/epoch-NNN.bpk, epoch-NNN.optim.bpk   the last finished epoch
//! DIR/curves.png, loss.png, metric.png, guide_loss.png, activeness.png
//! ```
//! Every file is written to a temporary name and renamed. `state.json` names the checkpoint
//! files of its epoch, and older epoch files are removed only after it is written, so a run
//! killed at any moment resumes from a consistent epoch and loses at most the current one.

use std::fs;
use std::path::{Path, PathBuf};

use diffres_report::Evaluation;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::config::{TrainConfig, RUN_FORMAT_VERSION};
use crate::error::{io_err, Result, TrainError};

/// `config.json`: how to rebuild the model and its inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Run-folder layout version.
    pub format_version: u32,
    /// The options of the run.
    pub config: TrainConfig,
    /// Input frames per clip.
    pub frames: usize,
    /// Class names, in model output order.
    pub classes: Vec<String>,
    /// Whether the task is multi-label.
    pub multi_label: bool,
    /// Dataset name.
    pub dataset: String,
    /// Version of the tool that wrote the run.
    pub tool_version: String,
}

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Mean training loss (task + weighted guide loss).
    pub train_loss: f64,
    /// Mean classification loss.
    pub train_task_loss: f64,
    /// Mean guide loss (0 for baselines).
    pub train_guide_loss: f64,
    /// Mean activeness (0 for baselines).
    pub train_activeness: f64,
    /// Validation classification loss.
    pub val_loss: f64,
    /// Validation primary metric (accuracy or mAP).
    pub val_metric: f64,
    /// All validation metrics.
    pub val: Evaluation,
    /// Seconds spent on the epoch.
    pub time_s: f64,
    /// Training throughput.
    pub clips_per_s: f64,
}

/// `state.json`: where to resume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Last finished epoch.
    pub epoch: usize,
    /// Model checkpoint of that epoch (file name in `checkpoints/`).
    pub checkpoint: String,
    /// Optimizer state of that epoch.
    pub optimizer: String,
    /// Best validation metric so far.
    pub best_metric: f64,
    /// Epoch of the best validation metric.
    pub best_epoch: usize,
    /// Every finished epoch's metrics.
    pub history: Vec<EpochMetrics>,
    /// Training seconds so far (across resumes).
    pub elapsed_s: f64,
}

/// `results.json`: the final test metrics of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// Run-folder layout version.
    pub format_version: u32,
    /// Front-end name.
    pub frontend: String,
    /// Fraction of frames removed.
    pub reduction: f64,
    /// Seed.
    pub seed: u64,
    /// Output frames per second of audio.
    pub fps: f64,
    /// Primary metric name (`accuracy` or `mAP`).
    pub metric: String,
    /// Primary metric on the test split (a fraction).
    pub test_metric: f64,
    /// All test metrics.
    pub test: Evaluation,
    /// Split the test metrics come from (`test`, or `val` when there is no test split).
    pub evaluated_on: String,
    /// Best validation metric and its epoch.
    pub best_val_metric: f64,
    /// Epoch of the best validation metric.
    pub best_epoch: usize,
    /// Trainable parameters of the front end.
    pub frontend_params: usize,
    /// Trainable parameters of the classifier.
    pub classifier_params: usize,
    /// Input frames per clip.
    pub frames_in: usize,
    /// Frames the classifier sees.
    pub frames_out: usize,
    /// Training wall time in seconds.
    pub wall_time_s: f64,
    /// Clips in the train / val / test splits (readable ones).
    pub clips: [usize; 3],
    /// Unreadable files skipped.
    pub skipped_files: usize,
}

/// Paths inside a run folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// The folder.
    pub root: PathBuf,
}

impl RunDir {
    /// Wraps a folder.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }
    /// `state.json`.
    pub fn state(&self) -> PathBuf {
        self.root.join("state.json")
    }
    /// `metrics.jsonl`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }
    /// `results.json`.
    pub fn results(&self) -> PathBuf {
        self.root.join("results.json")
    }
    /// `checkpoints/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }
    /// `checkpoints/best.bpk`.
    pub fn best(&self) -> PathBuf {
        self.checkpoints().join("best.bpk")
    }

    /// Reads `config.json`, checking the layout version.
    ///
    /// # Errors
    /// A missing folder or file, malformed JSON, or another version.
    pub fn read_info(&self) -> Result<RunInfo> {
        if !self.root.is_dir() {
            return Err(TrainError::Run {
                path: self.root.clone(),
                reason: "no such run folder".into(),
            });
        }
        let value: serde_json::Value = read_json(&self.config())?;
        let version = value.get("format_version").and_then(|v| v.as_u64());
        if version != Some(RUN_FORMAT_VERSION as u64) {
            return Err(TrainError::Run {
                path: self.root.clone(),
                reason: format!(
                    "written by an incompatible version (format {}, this tool reads {RUN_FORMAT_VERSION})",
                    version.map_or("unknown".into(), |v| v.to_string())
                ),
            });
        }
        serde_json::from_value(value).map_err(|source| TrainError::Json {
            path: self.config(),
            source,
        })
    }
}

/// Reads and parses a JSON file.
///
/// # Errors
/// I/O or JSON errors naming the file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|source| TrainError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes bytes to `path` through a temporary file and a rename.
///
/// # Errors
/// I/O errors naming the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

/// Writes pretty JSON atomically.
///
/// # Errors
/// I/O errors naming the file.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("plain data serialises");
    write_atomic(path, text.as_bytes())
}

/// `path` with `.tmp` appended.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `results.json` is read back by `diffres_report::load_results` for experiment tables:
    /// the fields it needs must keep their names and meaning.
    #[test]
    fn results_json_is_what_the_table_builder_reads() {
        let results = RunResults {
            format_version: RUN_FORMAT_VERSION,
            frontend: "diffres".into(),
            reduction: 0.75,
            seed: 3,
            fps: 25.0,
            metric: "accuracy".into(),
            test_metric: 0.875,
            test: diffres_report::evaluate_single_label(&[vec![0.9, 0.1]], &[0]),
            evaluated_on: "test".into(),
            best_val_metric: 0.9,
            best_epoch: 2,
            frontend_params: 1,
            classifier_params: 2,
            frames_in: 100,
            frames_out: 25,
            wall_time_s: 1.0,
            clips: [8, 1, 1],
            skipped_files: 0,
        };
        let json = serde_json::to_string(&results).unwrap();
        let read: diffres_report::RunResult = serde_json::from_str(&json).unwrap();
        assert_eq!(read.frontend, "diffres");
        assert_eq!((read.reduction, read.seed, read.fps), (0.75, 3, 25.0));
        assert_eq!(
            (read.metric.as_str(), read.test_metric),
            ("accuracy", 0.875)
        );
        assert_eq!((read.frames_in, read.frames_out), (Some(100), Some(25)));
    }
}
