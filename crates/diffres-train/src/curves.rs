//! Training curves as PNG: loss, metric, guide loss and activeness per epoch.

use std::path::Path;

use diffres_report::{curves_grid, line_chart, Panel};

use crate::error::Result;
use crate::run::EpochMetrics;

fn series(history: &[EpochMetrics], value: impl Fn(&EpochMetrics) -> f64) -> Vec<(f64, f64)> {
    history.iter().map(|m| (m.epoch as f64, value(m))).collect()
}

/// Writes `curves.png` (2x2 grid) and `loss.png`, `metric.png`, `guide_loss.png`,
/// `activeness.png` into `dir`.
///
/// # Errors
/// Plotting or I/O errors.
pub fn write_curves(dir: &Path, history: &[EpochMetrics]) -> Result<()> {
    let metric = history.first().map_or("metric", |m| m.val.primary().0);
    let panels = vec![
        // Like with like: the classification loss on both splits (validation has no guide
        // loss); the guide loss has its own panel.
        Panel {
            title: "Classification loss".into(),
            y_label: "task loss".into(),
            series: vec![
                ("train".into(), series(history, |m| m.train_task_loss)),
                ("validation".into(), series(history, |m| m.val_loss)),
            ],
        },
        Panel {
            title: format!("Validation {metric}"),
            y_label: metric.into(),
            series: vec![(metric.into(), series(history, |m| m.val_metric))],
        },
        Panel {
            title: "Guide loss (Figure 7)".into(),
            y_label: "guide loss".into(),
            series: vec![("guide loss".into(), series(history, |m| m.train_guide_loss))],
        },
        Panel {
            title: "Activeness (Figure 6)".into(),
            y_label: "activeness".into(),
            series: vec![("activeness".into(), series(history, |m| m.train_activeness))],
        },
    ];
    curves_grid(&dir.join("curves.png"), &panels)?;
    for (file, panel) in ["loss.png", "metric.png", "guide_loss.png", "activeness.png"]
        .iter()
        .zip(&panels)
    {
        line_chart(
            &dir.join(file),
            &panel.title,
            "epoch",
            &panel.y_label,
            &panel.series,
        )?;
    }
    Ok(())
}
