//! # diffres-report
//!
//! Evaluation metrics, experiment tables and PNG plots for DiffRes experiments
//! (Liu et al., "Learning the spectrogram temporal resolution for audio classification").
//!
//! Plain Rust, no deep-learning dependency:
//!
//! * [`metrics`]: accuracy, top-k accuracy, confusion matrix, average precision and mAP
//!   (scikit-learn / AudioSet definitions), ROC AUC, d-prime, and an [`Evaluation`]
//!   summary for single- and multi-label tasks.
//! * [`results`]: the `results.json` schema of a run (written by the trainer, read here).
//! * [`table`]: load per-run `results.json` files and lay them out like Table 1 of the
//!   paper (baseline on top, one row per frame reduction, one column per front end,
//!   mean ± std over seeds, best per row in bold, `†` where the baseline is matched).
//! * [`fps`]: the nominal frame rate rows are labelled with (25 FPS, not the 24.75 a
//!   101-frame clip measures).
//! * [`plot`]: PNG plots with a bundled font (no system fonts needed): training curves,
//!   a 2x2 grid of curves, the paper's Figure 4 layout for one clip, metric-vs-FPS, a
//!   confusion matrix, the per-class metric change between two runs (Figure 10a) and one
//!   clip's warp matrix (Figure 11).
//!
//! ```
//! use diffres_report::metrics::{average_precision, d_prime, evaluate_single_label};
//! use diffres_report::table::ExperimentTable;
//! use diffres_report::RunResults;
//!
//! // Average precision, scikit-learn's definition.
//! let ap = average_precision(&[0.9, 0.8, 0.7, 0.6], &[true, false, true, false]).unwrap();
//! assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
//! assert!(d_prime(0.5).abs() < 1e-12);
//!
//! // A whole evaluation from class probabilities.
//! let probs = vec![vec![0.7, 0.3], vec![0.2, 0.8], vec![0.6, 0.4]];
//! let eval = evaluate_single_label(&probs, &[0, 1, 1]);
//! assert_eq!(eval.primary().0, "accuracy");
//! assert!((eval.primary().1 - 2.0 / 3.0).abs() < 1e-12);
//!
//! // Table 1 layout from per-run results.
//! let run = |frontend: &str, reduction: f64, seed: u64, m: f64| RunResults {
//!     frontend: frontend.into(),
//!     reduction,
//!     seed,
//!     fps: 100.0 * (1.0 - reduction),
//!     metric: "accuracy".into(),
//!     test_metric: Some(m),
//!     frames_in: None,
//!     frames_out: None,
//!     hop_ms: Some(10.0),
//!     nominal_fps: None,
//!     ..Default::default()
//! };
//! let runs = vec![
//!     run("identity", 0.0, 1, 0.90),
//!     run("avgpool", 0.5, 1, 0.85),
//!     run("diffres", 0.5, 1, 0.91),
//! ];
//! let table = ExperimentTable::from_results(&runs);
//! let md = table.to_markdown();
//! assert!(md.contains("**91.0 ± 0.0**†"));
//!
//! // Plots (PNG).
//! let dir = std::env::temp_dir().join("diffres-report-doctest");
//! diffres_report::plot::line_chart(
//!     &dir.join("loss.png"),
//!     "Training loss",
//!     "epoch",
//!     "loss",
//!     &[("train".to_string(), vec![(1.0, 0.9), (2.0, 0.5), (3.0, 0.4)])],
//! )
//! .unwrap();
//! diffres_report::plot::experiment_plot(&dir.join("table.png"), &table).unwrap();
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod fps;
pub mod metrics;
pub mod plot;
pub mod results;
pub mod table;

pub use fps::nominal_fps;
pub use metrics::{evaluate_multi_label, evaluate_single_label, Evaluation, TaskKind};
pub use plot::{
    bar_chart, confusion_matrix_figure, curves_grid, diffres_figure, experiment_plot,
    filter_responses_figure, line_chart, per_class_change_figure, per_class_changes,
    warp_matrix_figure, Bar, DiffResFigure, Panel, PerClassChange, PerClassChanges,
};
pub use results::{load_results, RunResults};
pub use table::{CellStats, ExperimentTable, TableRow};

use std::path::PathBuf;

/// Errors of this crate.
///
/// Variants wrapping another error keep it as [`std::error::Error::source`] and do not repeat
/// its text in their own message, so a caller printing the cause chain shows each cause once.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading, writing or listing a file or folder failed.
    #[error("I/O error on {path}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file could not be parsed.
    #[error("malformed JSON in {path}")]
    Json {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// Drawing or encoding a plot failed.
    #[error("plot error: {0}")]
    Plot(String),
    /// The input cannot be used.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, ReportError>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn display_does_not_repeat_the_source() {
        let cause = "No such file or directory (os error 2)";
        let e = ReportError::Io {
            path: PathBuf::from("runs/a/results.json"),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, cause),
        };
        assert_eq!(e.to_string(), "I/O error on runs/a/results.json");
        assert_eq!(e.source().unwrap().to_string(), cause);
        let json = serde_json::from_str::<u32>("{").unwrap_err();
        let json_text = json.to_string();
        let e = ReportError::Json {
            path: PathBuf::from("results.json"),
            source: json,
        };
        assert_eq!(e.to_string(), "malformed JSON in results.json");
        assert_eq!(e.source().unwrap().to_string(), json_text);
    }
}
