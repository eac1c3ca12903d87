//! `results.json`: the final metrics of one training run. One schema for the writer (the
//! trainer, `diffres-train`) and every reader (experiment tables here, `eval`, scripts).
//!
//! Fields that older versions did not write default when read (`None`, 0, empty), so tables
//! can still be built from old run folders.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::metrics::Evaluation;
use crate::{ReportError, Result};

/// `results.json`: the final test metrics of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// Run-folder layout version of the writer.
    #[serde(default)]
    pub format_version: u32,
    /// Front end: identity, diffres, avgpool, avgmaxpool, convavgpool or changehopsize.
    pub frontend: String,
    /// Fraction of frames removed (delta); 0.0 for identity.
    pub reduction: f64,
    /// Random seed of the run.
    pub seed: u64,
    /// Measured output frames per second (output frames per second of audio): 24.75 for a
    /// 101-frame clip reduced to 25 frames at a 10 ms hop.
    pub fps: f64,
    /// Nominal output frames per second, `(1 - reduction) * 1000 / hop_ms` (25 in that
    /// example), when recorded. Tables use [`RunResults::resolved_nominal_fps`], which falls
    /// back on the other fields.
    #[serde(default)]
    pub nominal_fps: Option<f64>,
    /// Hop between input frames in milliseconds, when recorded.
    #[serde(default)]
    pub hop_ms: Option<f64>,
    /// Name of the primary metric (`accuracy` or `mAP`).
    pub metric: String,
    /// The primary metric on the test split, as a fraction; `None` (`null`) when the dataset
    /// has no test split (tables leave such runs out).
    pub test_metric: Option<f64>,
    /// All test metrics; `None` without a test split.
    #[serde(default)]
    pub test: Option<Evaluation>,
    /// Split the test metrics come from: `test`, or `none` without a test split (they are
    /// never taken from the training or validation clips).
    #[serde(default)]
    pub evaluated_on: String,
    /// Best validation metric.
    #[serde(default)]
    pub best_val_metric: f64,
    /// Epoch of the best validation metric (1-based).
    #[serde(default)]
    pub best_epoch: usize,
    /// Trainable parameters of the front end.
    #[serde(default)]
    pub frontend_params: usize,
    /// Trainable parameters of the classifier.
    #[serde(default)]
    pub classifier_params: usize,
    /// Input frames per clip, when recorded.
    #[serde(default)]
    pub frames_in: Option<usize>,
    /// Frames the classifier sees, when recorded.
    #[serde(default)]
    pub frames_out: Option<usize>,
    /// Training wall time in seconds.
    #[serde(default)]
    pub wall_time_s: f64,
    /// Clips in the train / val / test splits (readable ones).
    #[serde(default)]
    pub clips: [usize; 3],
    /// Unreadable files skipped.
    #[serde(default)]
    pub skipped_files: usize,
    /// The model the test metrics are of: `best` (the best validation epoch's) or `averaged`
    /// (the mean of the weights of the epochs in [`RunResults::averaged_epochs`]); `None` in
    /// runs written before weight averaging existed (`best`).
    #[serde(default)]
    pub evaluated_model: Option<String>,
    /// Weight averaging: the first and the last epoch averaged.
    #[serde(default)]
    pub averaged_epochs: Option<[usize; 2]>,
    /// Weight averaging: the averaged model's validation metric.
    #[serde(default)]
    pub averaged_val_metric: Option<f64>,
    /// Weight averaging: the best validation epoch's model's test metric, for comparison.
    #[serde(default)]
    pub best_epoch_test_metric: Option<f64>,
}

/// Loads every `results.json` found in `dir` or any folder below it (symbolic links to
/// folders are not followed), sorted by path.
///
/// # Errors
/// [`ReportError::Io`] when a folder or file cannot be read, [`ReportError::Json`]
/// naming the file when one is malformed.
pub fn load_results(dir: &Path) -> Result<Vec<RunResults>> {
    let mut files = Vec::new();
    collect_results(dir, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Io {
                path: path.clone(),
                source,
            })?;
            serde_json::from_str(&text).map_err(|source| ReportError::Json { path, source })
        })
        .collect()
}

fn collect_results(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let ty = entry.file_type().map_err(io)?;
        let path = entry.path();
        if ty.is_dir() {
            collect_results(&path, out)?;
        } else if entry.file_name() == "results.json" {
            out.push(path);
        }
    }
    Ok(())
}
