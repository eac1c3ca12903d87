//! Figures from a run's recorded evaluation (no model is run): the confusion matrix of a
//! single-label run, and the per-class metric change between two runs (the paper's
//! Figure 10a, e.g. one run per hop size).
//!
//! Both read an [`Evaluation`]: the test evaluation in a run's `results.json`, or the one in
//! an `eval.json` written by `diffres eval`. Class names come from the run's `config.json`,
//! next to either file.

use std::path::{Path, PathBuf};

use diffres_report::{
    confusion_matrix_figure, per_class_change_figure, per_class_changes, Evaluation,
    PerClassChanges, ReportError, TaskKind,
};
use serde::Deserialize;

use crate::error::{io_err, Result};
use crate::inference::EvalReport;
use crate::run::{read_json, RunResults};

/// An [`Evaluation`] read from a run folder, a `results.json` or an `eval.json`.
#[derive(Clone, Debug)]
pub struct EvaluationSource {
    /// The file the metrics were read from.
    pub path: PathBuf,
    /// Short name for titles and legends: the run folder's name after its parent's
    /// (`hop-40ms/seed-1`), with ` (eval.json)` for an `eval.json`.
    pub label: String,
    /// What was evaluated, e.g. "test split" or "test split of data/other".
    pub description: String,
    /// Class names in the model's output order (the run's `config.json`).
    pub classes: Vec<String>,
    /// The metrics.
    pub evaluation: Evaluation,
}

/// The part of `config.json` these figures need.
#[derive(Deserialize)]
struct ClassNames {
    classes: Vec<String>,
}

fn invalid(msg: String) -> crate::TrainError {
    ReportError::InvalidInput(msg).into()
}

/// Reads the evaluation in `path`: a run folder (its `results.json`), a `results.json` (its
/// test evaluation) or an `eval.json`; the class names come from the `config.json` in the
/// same folder, or from `classes` when there is none.
///
/// # Errors
/// A missing or malformed file, a `results.json` without a test evaluation (a run without a
/// test split), or no class names; every message names the file.
pub fn load_evaluation(path: &Path, classes: Option<&[String]>) -> Result<EvaluationSource> {
    let file = if path.is_dir() {
        path.join("results.json")
    } else {
        path.to_path_buf()
    };
    let folder = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let run_name = run_name(folder);
    let value: serde_json::Value = read_json(&file)?;
    let json_err = |source| crate::TrainError::Json {
        path: file.clone(),
        source,
    };
    let (evaluation, description, label) = if value.get("metrics").is_some() {
        let report: EvalReport = serde_json::from_value(value).map_err(json_err)?;
        let description = format!("{} split of {}", report.split, report.data.display());
        (
            report.metrics,
            description,
            format!("{run_name} (eval.json)"),
        )
    } else {
        let results: RunResults = serde_json::from_value(value).map_err(json_err)?;
        let Some(test) = results.test else {
            return Err(invalid(format!(
                "{}: no test evaluation (the run has no test split); evaluate it with \
                 `diffres eval --data DIR` and use its eval.json",
                file.display()
            )));
        };
        (test, "test split".to_string(), run_name)
    };
    let config = folder.join("config.json");
    let classes = if config.is_file() {
        read_json::<ClassNames>(&config)?.classes
    } else if let Some(c) = classes {
        c.to_vec()
    } else {
        return Err(invalid(format!(
            "{}: no config.json next to it to name the classes",
            file.display()
        )));
    };
    Ok(EvaluationSource {
        path: file,
        label,
        description,
        classes,
        evaluation,
    })
}

/// What [`confusion_figures`] wrote, and why it wrote less.
#[derive(Clone, Debug, Default)]
pub struct ConfusionFigures {
    /// The PNGs written.
    pub written: Vec<PathBuf>,
    /// One line per evaluation without a confusion matrix (a multi-label run, no test split,
    /// or a file written before confusion matrices were recorded).
    pub notes: Vec<String>,
}

/// Writes `confusion.png` in `out`, the confusion matrix of the test evaluation in the run's
/// `results.json`, and `confusion-eval.png` from `eval` (an `eval.json` written by
/// `diffres eval`) when one is given; see [`diffres_report::confusion_matrix_figure`].
///
/// A run that cannot have one is not an error but a note: a multi-label run, a run without
/// `results.json` (still training) or without a test split, and files written before
/// confusion matrices were recorded. `classes` name the classes when `eval` lies in a
/// folder without the run's `config.json`.
///
/// # Errors
/// A malformed `results.json`, an unreadable or malformed `eval`, or plotting errors.
pub fn confusion_figures(
    run: &Path,
    classes: &[String],
    eval: Option<&Path>,
    out: &Path,
) -> Result<ConfusionFigures> {
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let mut figures = ConfusionFigures::default();
    let results = run.join("results.json");
    let test = if results.is_file() {
        match load_evaluation(&results, Some(classes)) {
            Ok(source) => Some(source),
            Err(crate::TrainError::Report(ReportError::InvalidInput(why))) => {
                figures.notes.push(format!("no confusion matrix: {why}"));
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        figures.notes.push(format!(
            "no confusion matrix: {} does not exist yet (the run has not finished)",
            results.display()
        ));
        None
    };
    let given = eval
        .map(|e| load_evaluation(e, Some(classes)))
        .transpose()?;
    for (source, name) in [(test, "confusion.png"), (given, "confusion-eval.png")] {
        let Some(source) = source else { continue };
        let e = &source.evaluation;
        if e.task == TaskKind::MultiLabel {
            figures.notes.push(format!(
                "no confusion matrix from {}: the run is multi-label",
                source.path.display()
            ));
            continue;
        }
        if e.confusion.is_empty() {
            figures.notes.push(format!(
                "no confusion matrix in {} (written before they were recorded; evaluate \
                 the run again with `diffres eval`)",
                source.path.display()
            ));
            continue;
        }
        let accuracy = e
            .accuracy
            .map_or(String::new(), |a| format!(", accuracy {:.1}%", 100.0 * a));
        let title = format!(
            "{}: {}, {} clips{accuracy}",
            source.label, source.description, e.n
        );
        let path = out.join(name);
        confusion_matrix_figure(&path, &source.classes, &e.confusion, &title)?;
        figures.written.push(path);
    }
    Ok(figures)
}

/// The per-class metric [`compare_runs`] draws: the one the runs' primary metric is built on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerClassMetric {
    /// Average precision of each class (multi-label runs: their mAP is its mean).
    Ap,
    /// Accuracy of each class, the share of its clips predicted as it (single-label runs,
    /// whose primary metric is the accuracy).
    Accuracy,
}

impl PerClassMetric {
    /// The metric of a task: AP for multi-label, accuracy for single-label.
    pub fn of(task: TaskKind) -> Self {
        match task {
            TaskKind::MultiLabel => PerClassMetric::Ap,
            TaskKind::SingleLabel => PerClassMetric::Accuracy,
        }
    }

    /// The name in file names: `ap`, `accuracy`.
    pub fn file_name(self) -> &'static str {
        match self {
            PerClassMetric::Ap => "ap",
            PerClassMetric::Accuracy => "accuracy",
        }
    }

    /// The name in figures: `AP`, `accuracy`.
    pub fn display_name(self) -> &'static str {
        match self {
            PerClassMetric::Ap => "AP",
            PerClassMetric::Accuracy => "accuracy",
        }
    }

    /// The per-class values of this metric in `e` (empty when not recorded).
    pub fn values(self, e: &Evaluation) -> &[Option<f64>] {
        match self {
            PerClassMetric::Ap => &e.per_class_ap,
            PerClassMetric::Accuracy => &e.per_class_accuracy,
        }
    }
}

/// What [`compare_runs`] wrote.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The metric compared.
    pub metric: PerClassMetric,
    /// `per-class-<metric>.png`.
    pub figure: PathBuf,
    /// `per-class-<metric>.csv`: `class,a,b,change`, largest change first.
    pub csv: PathBuf,
    /// The changes drawn.
    pub changes: PerClassChanges,
    /// The label of the first run.
    pub label_a: String,
    /// The label of the second run.
    pub label_b: String,
}

/// The paper's Figure 10a for two runs: writes `per-class-<metric>.png` (see
/// [`diffres_report::per_class_change_figure`]) and `per-class-<metric>.csv` (class, the
/// metric in `a`, in `b`, and the change `b - a`; largest change first) into `out`. `a` and
/// `b` are run folders, `results.json` or `eval.json` files ([`load_evaluation`]); the
/// metric is per-class AP for multi-label runs and per-class accuracy for single-label ones
/// ([`PerClassMetric::of`]).
///
/// # Errors
/// Unreadable files, runs of different tasks or class lists, or runs without the per-class
/// metric (written before it was recorded); plotting errors.
pub fn compare_runs(a: &Path, b: &Path, out: &Path) -> Result<Comparison> {
    let (sa, sb) = (load_evaluation(a, None)?, load_evaluation(b, None)?);
    let (ta, tb) = (sa.evaluation.task, sb.evaluation.task);
    let task_name = |t: TaskKind| match t {
        TaskKind::SingleLabel => "single-label",
        TaskKind::MultiLabel => "multi-label",
    };
    if ta != tb {
        return Err(invalid(format!(
            "{} is {} but {} is {}: nothing to compare per class",
            sa.path.display(),
            task_name(ta),
            sb.path.display(),
            task_name(tb)
        )));
    }
    if sa.classes != sb.classes {
        let first = sa
            .classes
            .iter()
            .zip(&sb.classes)
            .position(|(x, y)| x != y)
            .map_or(String::new(), |k| {
                format!(", class {k} is '{}' vs '{}'", sa.classes[k], sb.classes[k])
            });
        return Err(invalid(format!(
            "{} and {} have different class lists ({} vs {} classes{first})",
            sa.path.display(),
            sb.path.display(),
            sa.classes.len(),
            sb.classes.len()
        )));
    }
    let metric = PerClassMetric::of(ta);
    for s in [&sa, &sb] {
        let n = metric.values(&s.evaluation).len();
        if n != s.classes.len() {
            let why = if n == 0 {
                "written before per-class metrics were recorded; evaluate the run again with \
                 `diffres eval` and compare its eval.json"
                    .to_string()
            } else {
                format!("{n} values for {} classes", s.classes.len())
            };
            return Err(invalid(format!(
                "{}: no per-class {} ({why})",
                s.path.display(),
                metric.display_name()
            )));
        }
    }
    let (va, vb) = (metric.values(&sa.evaluation), metric.values(&sb.evaluation));
    let (mut label_a, mut label_b) = (sa.label.clone(), sb.label.clone());
    if label_a == label_b {
        label_a.push_str(" [a]");
        label_b.push_str(" [b]");
    }
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let changes = per_class_changes(&sa.classes, va, vb)?;
    let stem = format!("per-class-{}", metric.file_name());
    let figure = out.join(format!("{stem}.png"));
    per_class_change_figure(
        &figure,
        &sa.classes,
        va,
        vb,
        &label_a,
        &label_b,
        metric.display_name(),
    )?;
    let csv = out.join(format!("{stem}.csv"));
    crate::run::write_atomic(&csv, changes.to_csv().as_bytes())?;
    Ok(Comparison {
        metric,
        figure,
        csv,
        changes,
        label_a,
        label_b,
    })
}

/// A run folder's name with its parent's, `hop-40ms/seed-1` (runs of a grid are named
/// alike within their cells).
fn run_name(folder: &Path) -> String {
    let Ok(full) = folder.canonicalize() else {
        return folder.display().to_string();
    };
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    match (full.parent().and_then(name), name(&full)) {
        (Some(parent), Some(run)) => format!("{parent}/{run}"),
        (None, Some(run)) => run,
        _ => full.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diffres_report::evaluate_single_label;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A run folder with config.json naming `classes` and a results.json of `eval`.
    fn run_folder(dir: &Path, classes: &[&str], eval: Option<Evaluation>) {
        write(
            &dir.join("config.json"),
            &serde_json::json!({ "classes": classes }).to_string(),
        );
        let results = RunResults {
            frontend: "diffres".into(),
            metric: "accuracy".into(),
            test_metric: eval.as_ref().and_then(|e| e.accuracy),
            test: eval,
            ..Default::default()
        };
        write(
            &dir.join("results.json"),
            &serde_json::to_string(&results).unwrap(),
        );
    }

    #[test]
    fn confusion_figures_notes_instead_of_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let classes = ["dog", "rain"];
        let names: Vec<String> = classes.iter().map(|s| s.to_string()).collect();
        let eval = evaluate_single_label(&[vec![0.9, 0.1], vec![0.3, 0.7]], &[0, 0]);
        let run = tmp.path().join("run");
        run_folder(&run, &classes, Some(eval.clone()));
        let out = tmp.path().join("figs");
        let figs = confusion_figures(&run, &names, None, &out).unwrap();
        assert_eq!(figs.written, vec![out.join("confusion.png")]);
        assert!(figs.notes.is_empty());
        // No test split: a note.
        let bare = tmp.path().join("bare");
        run_folder(&bare, &classes, None);
        let figs = confusion_figures(&bare, &names, None, &out).unwrap();
        assert!(figs.written.is_empty());
        assert!(figs.notes[0].contains("no test split"), "{:?}", figs.notes);
        // Multi-label: a note.
        let mut multi = eval.clone();
        multi.task = TaskKind::MultiLabel;
        multi.confusion.clear();
        let ml = tmp.path().join("ml");
        run_folder(&ml, &classes, Some(multi));
        let figs = confusion_figures(&ml, &names, None, &out).unwrap();
        assert!(figs.notes[0].contains("multi-label"), "{:?}", figs.notes);
        // A missing eval.json given on purpose is an error naming it.
        let missing = tmp.path().join("nope").join("eval.json");
        let e = confusion_figures(&run, &names, Some(&missing), &out).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn compare_errors_name_the_problem() {
        let tmp = tempfile::tempdir().unwrap();
        let eval = evaluate_single_label(&[vec![0.9, 0.1], vec![0.3, 0.7]], &[0, 1]);
        let (a, b, c) = (
            tmp.path().join("a"),
            tmp.path().join("b"),
            tmp.path().join("c"),
        );
        run_folder(&a, &["dog", "rain"], Some(eval.clone()));
        run_folder(&b, &["dog", "wind"], Some(eval.clone()));
        let mut old = eval.clone();
        old.per_class_accuracy.clear();
        run_folder(&c, &["dog", "rain"], Some(old));
        let out = tmp.path().join("out");
        let e = compare_runs(&a, &b, &out).unwrap_err().to_string();
        assert!(
            e.contains("different class lists") && e.contains("'rain' vs 'wind'"),
            "{e}"
        );
        let e = compare_runs(&a, &c, &out).unwrap_err().to_string();
        assert!(e.contains("no per-class accuracy"), "{e}");
        let ok = compare_runs(&a, &a.join("results.json"), &out).unwrap();
        assert_eq!(ok.metric, PerClassMetric::Accuracy);
        assert!(ok.label_a.ends_with("/a [a]"), "{}", ok.label_a);
        assert!(ok.figure.is_file() && ok.csv.is_file());
        // Runs named alike are told apart by their parents' names.
        let (x, y) = (
            tmp.path().join("hop-40ms").join("seed-1"),
            tmp.path().join("hop-10ms").join("seed-1"),
        );
        run_folder(&x, &["dog", "rain"], Some(eval.clone()));
        run_folder(&y, &["dog", "rain"], Some(eval.clone()));
        let ok = compare_runs(&x, &y, &out).unwrap();
        assert_eq!(
            (ok.label_a.as_str(), ok.label_b.as_str()),
            ("hop-40ms/seed-1", "hop-10ms/seed-1")
        );
    }
}
