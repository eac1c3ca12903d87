//! Predicting the labels of audio files of any length with a trained run.
//!
//! A run was trained on clips of `frames` input frames (its `config.json`). A longer file is
//! read as windows of that length sliding over the whole file (by default half a window apart,
//! [`PredictOptions::window_hop_s`]); a shorter one is one window padded with silence, as in
//! training. The clip-level scores combine the windows as PSLA and EfficientAT do: the **mean**
//! of the windows' probabilities for single-label runs, the **maximum** per class for
//! multi-label runs (an event anywhere in the file counts).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{io_err, Result, TrainError};
use crate::inference::{full_features, LoadedRun};

/// Default `top_k`: labels reported per file.
pub const DEFAULT_TOP_K: usize = 3;

/// How to predict.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictOptions {
    /// Labels reported per file and per window, most probable first (at least 1).
    pub top_k: usize,
    /// Report every label scoring at least this instead of the `top_k` best (multi-label runs
    /// mostly); `None`: top-k.
    pub threshold: Option<f32>,
    /// Seconds between window starts; `None`: half a window.
    pub window_hop_s: Option<f64>,
}

impl Default for PredictOptions {
    fn default() -> Self {
        Self {
            top_k: DEFAULT_TOP_K,
            threshold: None,
            window_hop_s: None,
        }
    }
}

impl PredictOptions {
    /// Checks the options.
    ///
    /// # Errors
    /// `top_k` of 0, a threshold outside `[0, 1]`, or a non-positive hop.
    pub fn validate(&self) -> Result<()> {
        if self.top_k == 0 {
            return Err(TrainError::Config(
                "--top-k 0 reports no label: it must be at least 1".into(),
            ));
        }
        if let Some(t) = self.threshold {
            if !(0.0..=1.0).contains(&t) {
                return Err(TrainError::Config(format!(
                    "--threshold {t} is not a probability in [0, 1]"
                )));
            }
        }
        if let Some(h) = self.window_hop_s {
            if !(h > 0.0 && h.is_finite()) {
                return Err(TrainError::Config(format!(
                    "--window-hop {h} must be a positive number of seconds"
                )));
            }
        }
        Ok(())
    }
}

/// A label and its probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelScore {
    /// Class name.
    pub label: String,
    /// Probability (softmax for single-label runs, sigmoid for multi-label runs).
    pub score: f32,
}

/// The scores of one window of a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowScores {
    /// Start of the window in seconds.
    pub start_s: f64,
    /// End of the window in seconds (of audio: a padded last window ends at the file's end).
    pub end_s: f64,
    /// The window's labels, chosen as for the clip.
    pub labels: Vec<LabelScore>,
}

/// The prediction for one file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The file.
    pub file: PathBuf,
    /// Seconds of audio.
    pub duration_s: f64,
    /// Clip-level labels, most probable first.
    pub labels: Vec<LabelScore>,
    /// Every window's scores, in time order.
    pub windows: Vec<WindowScores>,
    /// What the decoder noticed (a file shorter than its header says, corrupt packets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A file that could not be predicted, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredictFailure {
    /// The file.
    pub file: PathBuf,
    /// The error, with its causes.
    pub error: String,
}

/// Window start frames for a file of `total` frames and windows of `window` frames, `hop`
/// apart: the last window ends at the file's end, so every frame is covered.
pub fn window_starts(total: usize, window: usize, hop: usize) -> Vec<usize> {
    if total <= window {
        return vec![0];
    }
    let last = total - window;
    let mut starts: Vec<usize> = (0..=last).step_by(hop.max(1)).collect();
    if starts.last() != Some(&last) {
        starts.push(last);
    }
    starts
}

fn choose(classes: &[String], probs: &[f32], opts: &PredictOptions) -> Vec<LabelScore> {
    let mut ranked: Vec<LabelScore> = classes
        .iter()
        .zip(probs)
        .map(|(label, &score)| LabelScore {
            label: label.clone(),
            score,
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    match opts.threshold {
        Some(t) => ranked.retain(|l| l.score >= t),
        None => ranked.truncate(opts.top_k),
    }
    ranked
}

/// Predicts one file, sliding the run's window over all of it.
///
/// # Errors
/// Invalid options, an unreadable file, or front-end errors.
pub fn predict_file(run: &LoadedRun, path: &Path, opts: &PredictOptions) -> Result<Prediction> {
    opts.validate()?;
    let features = full_features(run, path)?;
    let warnings = features.warnings.iter().map(ToString::to_string).collect();
    let spec = features.spec;
    // Rows of input: frames of a spectrogram, samples of a waveform.
    let feature_cfg = run.info.config.feature_config();
    let (window, mels) = (run.info.frames, feature_cfg.width());
    let hop_s = feature_cfg.row_seconds();
    let hop = match opts.window_hop_s {
        Some(s) => ((s / hop_s).round() as usize).max(1),
        None => (window / 2).max(1),
    };
    let starts = window_starts(spec.frames, window, hop);
    let silence = run.info.config.pad_value();
    let classes = run.info.classes.len();
    let output = run.output_kind()?;
    let mut window_probs: Vec<Vec<f32>> = Vec::with_capacity(starts.len());
    for chunk in starts.chunks(run.info.config.batch_size.max(1)) {
        let mut x = Vec::with_capacity(chunk.len() * window * mels);
        let mut lengths = Vec::with_capacity(chunk.len());
        for &start in chunk {
            let end = (start + window).min(spec.frames);
            x.extend_from_slice(&spec.data[start * mels..end * mels]);
            x.resize(x.len() + (start + window - end) * mels, silence);
            lengths.push(end - start);
        }
        let x =
            Tensor::<3>::from_data(TensorData::new(x, [chunk.len(), window, mels]), &run.device);
        let lengths = run.info.config.variable_length.then_some(&lengths[..]);
        let (logits, _) = run.model.forward(x, lengths)?;
        let p = output.probabilities(logits);
        window_probs.extend(p.chunks(classes).map(<[f32]>::to_vec));
    }
    let n = window_probs.len() as f32;
    let clip: Vec<f32> = (0..classes)
        .map(|c| {
            let column = window_probs.iter().map(|w| w[c]);
            if run.info.multi_label {
                column.fold(0.0, f32::max)
            } else {
                column.sum::<f32>() / n
            }
        })
        .collect();
    let duration_s = spec.frames as f64 * hop_s;
    let windows = starts
        .iter()
        .zip(&window_probs)
        .map(|(&start, probs)| WindowScores {
            start_s: start as f64 * hop_s,
            end_s: ((start + window) as f64 * hop_s).min(duration_s),
            labels: choose(&run.info.classes, probs, opts),
        })
        .collect();
    Ok(Prediction {
        file: path.to_path_buf(),
        duration_s,
        labels: choose(&run.info.classes, &clip, opts),
        windows,
        warnings,
    })
}

/// The audio files named by `paths`: files as given, folders searched recursively for audio
/// files (sorted); a folder without audio is an error.
///
/// # Errors
/// A folder that cannot be read or holds no audio file.
pub fn expand_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    // Folders are visited once each by canonical path, so a symbolic link loop ends.
    fn walk(
        dir: &Path,
        out: &mut Vec<PathBuf>,
        visited: &mut std::collections::HashSet<PathBuf>,
    ) -> Result<()> {
        if !visited.insert(std::fs::canonicalize(dir).map_err(io_err(dir))?) {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io_err(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out, visited)?;
            } else if diffres_data::is_audio_file(&path) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    let mut visited = std::collections::HashSet::new();
    for path in paths {
        if path.is_dir() {
            let before = files.len();
            walk(path, &mut files, &mut visited)?;
            if files.len() == before {
                return Err(TrainError::Config(format!(
                    "folder {} holds no audio file ({})",
                    path.display(),
                    diffres_data::AUDIO_EXTENSIONS.join(", ")
                )));
            }
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Predicts every file (folders expanded), going on past files that fail: the predictions
/// in input order, and the failures.
///
/// # Errors
/// Invalid options or an unreadable folder; a bad file is a failure, not an error.
pub fn predict_paths(
    run: &LoadedRun,
    paths: &[PathBuf],
    opts: &PredictOptions,
) -> Result<(Vec<Prediction>, Vec<PredictFailure>)> {
    opts.validate()?;
    let files = expand_inputs(paths)?;
    let mut predictions = Vec::with_capacity(files.len());
    let mut failures = Vec::new();
    for file in files {
        match predict_file(run, &file, opts) {
            Ok(p) => predictions.push(p),
            Err(e) => failures.push(PredictFailure {
                error: crate::error::error_chain(&e),
                file,
            }),
        }
    }
    Ok((predictions, failures))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_frame_and_end_at_the_end() {
        assert_eq!(window_starts(50, 100, 50), vec![0]);
        assert_eq!(window_starts(100, 100, 50), vec![0]);
        assert_eq!(window_starts(250, 100, 50), vec![0, 50, 100, 150]);
        assert_eq!(window_starts(260, 100, 50), vec![0, 50, 100, 150, 160]);
        assert_eq!(window_starts(101, 100, 1000), vec![0, 1]);
    }

    #[test]
    fn options_are_checked() {
        let ok = PredictOptions::default();
        assert!(ok.validate().is_ok());
        let zero = PredictOptions {
            top_k: 0,
            ..ok.clone()
        };
        assert!(zero
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--top-k 0"));
        let threshold = PredictOptions {
            threshold: Some(1.5),
            ..ok.clone()
        };
        assert!(threshold.validate().is_err());
        let hop = PredictOptions {
            window_hop_s: Some(0.0),
            ..ok
        };
        assert!(hop.validate().is_err());
    }

    #[test]
    fn labels_are_ranked_then_cut_by_k_or_threshold() {
        let classes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let probs = [0.2, 0.7, 0.1];
        let top = choose(&classes, &probs, &PredictOptions::default());
        let names: Vec<&str> = top.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(names, ["b", "a", "c"]);
        let above = choose(
            &classes,
            &probs,
            &PredictOptions {
                threshold: Some(0.15),
                ..Default::default()
            },
        );
        assert_eq!(above.len(), 2);
        let one = choose(
            &classes,
            &probs,
            &PredictOptions {
                top_k: 1,
                ..Default::default()
            },
        );
        assert_eq!(one[0].label, "b");
    }
}
