//! PNG plots: training curves, the paper's Figure 4 layout, metric vs FPS, and the analysis
//! figures of finished runs (confusion matrix, Figures 10a and 11).
//!
//! Text is drawn with a bundled copy of DejaVu Sans (see `assets/`), registered with
//! plotters on first use, so no system font is needed at run time.
//!
//! Every function returns a [`Result`](crate::Result) and never panics on empty or non-finite
//! data: non-finite points are skipped, and a plot without any data is still a valid PNG of
//! the documented size carrying a "no data" note. Missing parent folders are created.
//!
//! One file per kind of figure:
//!
//! * `curves.rs`: [`line_chart`], [`curves_grid`] (training curves);
//! * `figure.rs`: [`diffres_figure`] (the paper's Figure 4 for one clip);
//! * `experiment.rs`: [`experiment_plot`] (metric vs FPS from an experiment table);
//! * `analysis.rs`: [`confusion_matrix_figure`], [`per_class_change_figure`] (Figure 10a,
//!   with [`per_class_changes`] computing what it draws) and [`warp_matrix_figure`]
//!   (Figure 11); unlike the others these reject inconsistent input with
//!   [`ReportError::InvalidInput`](crate::ReportError::InvalidInput);
//! * `bars.rs`: [`bar_chart`] (one metric per column, e.g. Table 3);
//! * `filters.rs`: [`filter_responses_figure`] (a learnable filterbank's filters);
//! * `colormap.rs`: [`colormap()`] (viridis and magma for the heatmaps);
//! * `style.rs`: sizes, font, palette and the axis, legend and "no data" helpers they share.

mod analysis;
mod bars;
mod colormap;
mod curves;
mod experiment;
mod figure;
mod filters;
mod style;

pub use analysis::{
    confusion_matrix_figure, per_class_change_figure, per_class_changes, short_name,
    warp_matrix_figure, PerClassChange, PerClassChanges, MAX_ANNOTATED_CLASSES, MAX_NAMED_CLASSES,
    MAX_NAME_CHARS,
};
pub use bars::{bar_chart, Bar};
pub use colormap::{colormap, Colormap};
pub use curves::{curves_grid, curves_grid_with_x_label, line_chart, Panel};
pub use experiment::experiment_plot;
pub use figure::{diffres_figure, DiffResFigure};
pub use filters::{filter_responses_figure, relative_db, RESPONSE_FLOOR_DB};

#[cfg(test)]
mod tests {
    use super::curves::tests::series;
    use super::experiment::tests::example_table;
    use super::figure::tests::synthetic_figure;
    use super::*;
    use std::collections::HashSet;
    use std::path::Path;

    /// Reads a PNG back: (width, height, number of distinct colours).
    pub(super) fn inspect(path: &Path) -> (u32, u32, usize) {
        let img = image::open(path).unwrap().to_rgb8();
        let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        (img.width(), img.height(), colours.len())
    }

    /// Writes the example PNGs to `$DIFFRES_REPORT_KEEP_PNG` for a visual check.
    #[test]
    fn keep_examples_for_review() {
        let Ok(keep) = std::env::var("DIFFRES_REPORT_KEEP_PNG") else {
            return;
        };
        let d = Path::new(&keep);
        line_chart(
            &d.join("line.png"),
            "Training loss",
            "epoch",
            "loss",
            &series(),
        )
        .unwrap();
        let panels = vec![
            Panel {
                title: "Loss".into(),
                y_label: "loss".into(),
                series: series(),
            },
            Panel {
                title: "Accuracy".into(),
                y_label: "accuracy".into(),
                series: vec![(
                    "valid".into(),
                    (0..30)
                        .map(|i| (i as f64, 1.0 - (-(i as f64) / 5.0).exp()))
                        .collect(),
                )],
            },
            Panel {
                title: "Guide loss".into(),
                y_label: "guide loss".into(),
                series: vec![],
            },
            Panel {
                title: "Activeness".into(),
                y_label: "rho".into(),
                series: series(),
            },
        ];
        curves_grid(&d.join("grid.png"), &panels).unwrap();
        experiment_plot(&d.join("fps.png"), &example_table()).unwrap();
        diffres_figure(&d.join("fig4_big.png"), &synthetic_figure(1000, 128)).unwrap();
    }
}
