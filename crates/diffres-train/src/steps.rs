//! `steps.jsonl`: the training statistics every `--log-every` steps (the paper draws Figures
//! 6-8 against training steps, not epochs), and the curves against steps.
//!
//! Lines are appended after each epoch, before the epoch's checkpoint is recorded in
//! `state.json`. A run killed between the two has lines of an epoch it will train again: a
//! resumed run first truncates the file to its checkpoint's epoch ([`truncate_steps`]), so the
//! file ends up equal to an uninterrupted run's, line for line.

use std::io::Write;
use std::path::Path;

use diffres_report::plot::curves_grid_with_x_label;
use diffres_report::Panel;
use serde::{Deserialize, Serialize};

use crate::error::{io_err, Result, TrainError};
use crate::run::EpochMetrics;
use crate::trainer::step::StepStats;

/// Steps between two lines of `steps.jsonl` by default.
pub const DEFAULT_LOG_EVERY: usize = 10;

/// One line of `steps.jsonl`: one training step's own statistics (not a running mean).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Global 1-based step (over all epochs).
    pub step: usize,
    /// 1-based epoch of the step.
    pub epoch: usize,
    /// Learning rate of the step (the epoch's scheduled rate times the warm-up's factor).
    pub lr: f64,
    /// Loss (task + weighted guide loss) of the step's batch.
    pub loss: f64,
    /// Classification loss of the batch.
    pub task_loss: f64,
    /// DiffRes guide loss of the batch (0 for baselines), also when its weight is 0.
    pub guide_loss: f64,
    /// DiffRes activeness of the batch (0 for baselines).
    pub activeness: f64,
}

/// The records of one epoch: every step whose global number is a multiple of `every`.
/// `first_step` is the global number of the epoch's first step.
pub fn epoch_records(
    stats: &[StepStats],
    epoch: usize,
    first_step: usize,
    every: usize,
) -> Vec<StepRecord> {
    let every = every.max(1);
    stats
        .iter()
        .enumerate()
        .map(|(i, s)| (first_step + i, s))
        .filter(|(step, _)| step % every == 0)
        .map(|(step, s)| {
            let n = s.clips.max(1) as f64;
            StepRecord {
                step,
                epoch,
                lr: s.lr,
                loss: s.loss / n,
                task_loss: s.task / n,
                guide_loss: s.guide / n,
                activeness: s.activeness / n,
            }
        })
        .collect()
}

/// Appends records to `steps.jsonl` (and flushes them to disk).
///
/// # Errors
/// I/O errors naming the file.
pub fn append_steps(path: &Path, records: &[StepRecord]) -> Result<()> {
    let mut text = String::new();
    for r in records {
        text += &serde_json::to_string(r).expect("plain data");
        text.push('\n');
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))?;
    file.write_all(text.as_bytes()).map_err(io_err(path))?;
    file.sync_data().map_err(io_err(path))
}

/// Reads `steps.jsonl` (an absent file is empty).
///
/// # Errors
/// I/O errors, or a malformed line, naming the file.
pub fn read_steps(path: &Path) -> Result<Vec<StepRecord>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path)(e)),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|source| TrainError::Json {
                path: path.to_path_buf(),
                source,
            })
        })
        .collect()
}

/// Keeps the lines of epochs up to `epoch` (the resume point; 0 empties the file). A line cut
/// short by a kill is dropped with the rest of its epoch.
///
/// # Errors
/// I/O errors naming the file.
pub fn truncate_steps(path: &Path, epoch: usize) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(path)(e)),
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<StepRecord>(l).is_ok_and(|r: StepRecord| r.epoch <= epoch)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    crate::run::write_atomic(path, kept.as_bytes())
}

/// Writes `steps.png`: the training loss, the guide loss (Figure 7), the activeness (Figure 6)
/// and the validation metric, against the training step. Validation is placed at the step that
/// ends its epoch.
///
/// # Errors
/// Plotting or I/O errors.
pub fn write_step_curves(dir: &Path, steps: &[StepRecord], history: &[EpochMetrics]) -> Result<()> {
    let line = |f: fn(&StepRecord) -> f64| -> Vec<(f64, f64)> {
        steps.iter().map(|r| (r.step as f64, f(r))).collect()
    };
    let metric = history.first().map_or("metric", |m| m.val.primary().0);
    let panels = vec![
        Panel {
            title: "Training loss".into(),
            y_label: "loss".into(),
            series: vec![("train".into(), line(|r| r.loss))],
        },
        Panel {
            title: format!("Validation {metric}"),
            y_label: metric.into(),
            series: vec![(
                metric.into(),
                history
                    .iter()
                    .map(|m| (m.step as f64, m.val_metric))
                    .collect(),
            )],
        },
        Panel {
            title: "Guide loss (Figure 7)".into(),
            y_label: "guide loss".into(),
            series: vec![("guide loss".into(), line(|r| r.guide_loss))],
        },
        Panel {
            title: "Activeness (Figure 6)".into(),
            y_label: "activeness".into(),
            series: vec![("activeness".into(), line(|r| r.activeness))],
        },
    ];
    curves_grid_with_x_label(&dir.join("steps.png"), "training step", &panels)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(v: f64) -> StepStats {
        StepStats {
            clips: 2,
            loss: 2.0 * v,
            task: 2.0 * (v - 0.5),
            guide: 1.0,
            activeness: 0.5,
            lr: 1e-3 * v,
        }
    }

    #[test]
    fn records_every_n_steps_and_truncation_keeps_earlier_epochs() {
        let epoch1: Vec<StepStats> = (0..5).map(|i| stats(i as f64)).collect();
        let r1 = epoch_records(&epoch1, 1, 1, 2);
        assert_eq!(
            r1.iter().map(|r| r.step).collect::<Vec<_>>(),
            vec![2, 4],
            "steps 2 and 4 of 1..=5"
        );
        // Per-step values, not running means: step 2 is the second batch (v = 1).
        assert_eq!(r1[0].lr, 1e-3, "each record has its own step's rate");
        assert_eq!(
            (r1[0].loss, r1[0].task_loss, r1[0].guide_loss),
            (1.0, 0.5, 0.5)
        );
        let r2 = epoch_records(&epoch1, 2, 6, 2);
        assert_eq!(
            r2.iter().map(|r| r.step).collect::<Vec<_>>(),
            vec![6, 8, 10]
        );

        let dir = std::env::temp_dir().join(format!("diffres-steps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("steps.jsonl");
        std::fs::remove_file(&path).ok();
        assert!(read_steps(&path).unwrap().is_empty());
        append_steps(&path, &r1).unwrap();
        append_steps(&path, &r2).unwrap();
        // A kill in the middle of a line of epoch 3.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"step\":12,\"epo").unwrap();
        drop(f);
        truncate_steps(&path, 1).unwrap();
        assert_eq!(read_steps(&path).unwrap(), r1);
        truncate_steps(&path, 0).unwrap();
        assert!(read_steps(&path).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).ok();
    }
}
