//! The run folder: what a training run writes, and how it is read back.
//!
//! ```text
//! DIR/config.json          RunInfo: the TrainConfig, resolved frames, classes
//! DIR/metrics.jsonl        one EpochMetrics per line
//! DIR/steps.jsonl          one StepRecord every --log-every steps (see `crate::steps`)
//! DIR/results.json         final test metrics (written last, atomically)
//! DIR/state.json           resume point: last finished epoch and its checkpoint files
//! DIR/checkpoints/best.bpk best validation epoch (Burn burnpack + SHA-256 trailer)
//! DIR/checkpoints/epoch-NNN.bpk, epoch-NNN.optim.bpk   the last finished epoch
//! DIR/checkpoints/average-NNN.bpk   --average-from: the mean of the weights up to epoch NNN
//! DIR/checkpoints/averaged.bpk      --average-from: the final average (evaluated model)
//! DIR/curves.png, loss.png, metric.png, guide_loss.png, activeness.png
//! DIR/.lock                held (OS file lock) while a process trains into DIR
//! ```
//! Every file is written to a temporary name (`NAME.tmp`) and renamed. `state.json` names the
//! checkpoint files of its epoch, and older epoch files are removed only after it is written,
//! so a run killed at any moment resumes from a consistent epoch and loses at most the current
//! one; the temporaries such a kill leaves behind are removed when the run resumes.
//! Checkpoints and `state.json` carry SHA-256 checksums ([`crate::integrity`]): a damaged file
//! is an error naming it. Floats are written so that they read back bit for bit (serde_json's
//! `float_roundtrip`), so a resumed run compares its scores with exactly the stored best.

use std::fs;
use std::path::{Path, PathBuf};

use diffres_report::Evaluation;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::config::{TrainConfig, OLDEST_RUN_FORMAT_VERSION, RUN_FORMAT_VERSION};
use crate::error::{io_err, Result, TrainError};
use crate::integrity::{read_sealed_json, seal_json};

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
    /// Global training step at the end of the epoch (0 in runs written before it was saved).
    #[serde(default)]
    pub step: usize,
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
    /// `--average-from`: the running weight average's file in `checkpoints/` (empty before the
    /// first averaged epoch); it averages epochs `average_from..=epoch`.
    #[serde(default)]
    pub average: String,
}

impl TrainState {
    /// The state before the first epoch.
    pub fn new() -> Self {
        Self {
            epoch: 0,
            checkpoint: String::new(),
            optimizer: String::new(),
            best_metric: f64::NEG_INFINITY,
            best_epoch: 0,
            history: Vec::new(),
            elapsed_s: 0.0,
            average: String::new(),
        }
    }
}

impl Default for TrainState {
    fn default() -> Self {
        Self::new()
    }
}

/// `results.json`: the final test metrics of a run. The schema lives in `diffres-report`,
/// which reads it back for experiment tables: one definition for writer and reader.
pub use diffres_report::RunResults;

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
    /// `steps.jsonl`.
    pub fn steps(&self) -> PathBuf {
        self.root.join("steps.jsonl")
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
    /// `checkpoints/averaged.bpk`: the weight average of a run with `--average-from`,
    /// written when its last epoch is done.
    pub fn averaged(&self) -> PathBuf {
        self.checkpoints().join("averaged.bpk")
    }
    /// The checkpoint `eval`, `predict`, `visualize` and the test metrics use: the weight
    /// average when the run has one, else the best validation epoch's.
    pub fn evaluated_model(&self) -> PathBuf {
        let averaged = self.averaged();
        if averaged.is_file() {
            averaged
        } else {
            self.best()
        }
    }

    /// Takes the folder's writer lock (see [`crate::lock`]); the folder must exist.
    ///
    /// # Errors
    /// Another process trains into the folder, or I/O errors.
    pub fn lock(&self) -> Result<crate::lock::RunLock> {
        crate::lock::RunLock::acquire(&self.root)
    }

    /// Removes the temporary files (`*.tmp`, Burn's `*.tmp.*`) that a killed writer left in the
    /// folder and in `checkpoints/`, and returns how many. Call it only while holding
    /// [`RunDir::lock`], so that no live writer's temporary is removed.
    pub fn remove_stale_temporaries(&self) -> usize {
        let mut removed = 0;
        for dir in [self.root.clone(), self.checkpoints()] {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let is_tmp = name.ends_with(".tmp") || name.contains(".tmp.");
                if is_tmp
                    && entry.file_type().is_ok_and(|t| t.is_file())
                    && fs::remove_file(entry.path()).is_ok()
                {
                    removed += 1;
                }
            }
        }
        removed
    }

    /// Reads `state.json`, checking its checksum (a run of format 1 has none).
    ///
    /// # Errors
    /// A missing, malformed or damaged file.
    pub fn read_state(&self, format_version: u32) -> Result<TrainState> {
        read_sealed_json(&self.state(), format_version < 2)
    }

    /// Writes `state.json` with its checksum.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn write_state(&self, state: &TrainState) -> Result<()> {
        write_atomic(&self.state(), seal_json(state).as_bytes())
    }

    /// Reads `config.json`, checking the layout version (every version from
    /// [`OLDEST_RUN_FORMAT_VERSION`] to [`RUN_FORMAT_VERSION`] is read).
    ///
    /// # Errors
    /// A missing folder or file, malformed JSON, or an unknown version.
    pub fn read_info(&self) -> Result<RunInfo> {
        if !self.root.is_dir() {
            return Err(TrainError::Run {
                path: self.root.clone(),
                reason: "no such run folder".into(),
            });
        }
        let value: serde_json::Value = read_json(&self.config())?;
        let version = value.get("format_version").and_then(|v| v.as_u64());
        let known = OLDEST_RUN_FORMAT_VERSION as u64..=RUN_FORMAT_VERSION as u64;
        if !version.is_some_and(|v| known.contains(&v)) {
            let what = version.map_or("no format version".into(), |v| format!("format {v}"));
            return Err(TrainError::Run {
                path: self.root.clone(),
                reason: format!(
                    "written with {what}, but this tool reads formats {OLDEST_RUN_FORMAT_VERSION} to {RUN_FORMAT_VERSION}: \
                     use the diffres version that wrote it (see tool_version in config.json), or train the run again"
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

    /// `results.json` round-trips exactly, and files written by run format 1 (no nominal
    /// rate, no hop, a plain number for the test metric) are still read.
    #[test]
    fn results_json_round_trips_and_old_files_read() {
        let results = RunResults {
            format_version: RUN_FORMAT_VERSION,
            frontend: "diffres".into(),
            reduction: 0.75,
            seed: 3,
            fps: 24.752475247524753,
            nominal_fps: Some(25.0),
            hop_ms: Some(10.0),
            metric: "accuracy".into(),
            test_metric: Some(26.0 / 27.0),
            test: Some(diffres_report::evaluate_single_label(
                &[vec![0.9, 0.1]],
                &[0],
            )),
            evaluated_on: "test".into(),
            best_val_metric: 0.9,
            best_epoch: 2,
            frontend_params: 1,
            classifier_params: 2,
            frames_in: Some(101),
            frames_out: Some(25),
            wall_time_s: 1.0,
            clips: [8, 1, 1],
            skipped_files: 0,
            evaluated_model: Some("averaged".into()),
            averaged_epochs: Some([3, 4]),
            averaged_val_metric: Some(0.75),
            best_epoch_test_metric: Some(0.5),
        };
        let json = serde_json::to_string(&results).unwrap();
        let read: RunResults = serde_json::from_str(&json).unwrap();
        assert_eq!(read, results);
        let old = r#"{"format_version": 1, "frontend": "avgpool", "reduction": 0.5, "seed": 1,
            "fps": 49.504950495049506, "metric": "accuracy", "test_metric": 0.875,
            "test": null, "evaluated_on": "test", "best_val_metric": 0.9, "best_epoch": 3,
            "frontend_params": 0, "classifier_params": 10, "frames_in": 101, "frames_out": 50,
            "wall_time_s": 2.5, "clips": [8, 1, 1], "skipped_files": 0}"#;
        let read: RunResults = serde_json::from_str(old).unwrap();
        assert_eq!(read.test_metric, Some(0.875));
        assert_eq!((read.nominal_fps, read.hop_ms), (None, None));
        assert_eq!(read.resolved_nominal_fps(), 50.0);
    }
}
