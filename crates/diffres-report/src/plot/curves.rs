//! Line charts of training curves, alone or in a grid of panels.

use super::style::{
    canvas, draw_axes, draw_legend, draw_note, finish, finite_range, font, legend_line, padded,
    perr, CURVES_GRID_SIZE, LINE_CHART_SIZE, PALETTE, TITLE_PT, X_LABEL_AREA, Y_LABEL_AREA,
};
use crate::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

type Series = (String, Vec<(f64, f64)>);

/// Series with at most this many points also get a marker per point.
const MAX_MARKED_POINTS: usize = 60;

/// Draws one line chart (title, axes, series, legend) into an area.
fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    let clean: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, pts)| {
            let mut p: Vec<(f64, f64)> = pts
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            (name.as_str(), p)
        })
        .collect();
    let all = || clean.iter().flat_map(|(_, p)| p.iter().copied());
    let (Some(xr), Some(yr)) = (
        finite_range(all().map(|p| p.0)),
        finite_range(all().map(|p| p.1)),
    ) else {
        return draw_note(area, title, "no data");
    };
    let (x0, x1) = padded(xr, 0.02);
    let (y0, y1) = padded(yr, 0.05);
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(TITLE_PT))
        .margin(12)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(perr)?;
    draw_axes(&mut chart, x_label, y_label)?;
    for (i, (name, pts)) in clean.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(perr)?
            .label(*name)
            .legend(legend_line(color, 3));
        if pts.len() <= MAX_MARKED_POINTS {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(perr)?;
        }
    }
    if !clean.is_empty() {
        // Put the legend where the curves are not at the right end of the plot.
        let right: Vec<f64> = all()
            .filter(|p| p.0 >= xr.0 + 0.7 * (xr.1 - xr.0))
            .map(|p| (p.1 - y0) / (y1 - y0))
            .collect();
        let high = !right.is_empty() && right.iter().sum::<f64>() / right.len() as f64 > 0.5;
        draw_legend(
            &mut chart,
            if high {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            },
        )?;
    }
    Ok(())
}

/// A line chart (training curves: loss, metric, guide loss, activeness), 900x500 PNG.
///
/// `series` are `(name, points)`; non-finite points are skipped, points are drawn in
/// increasing `x`.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let root = canvas(path, LINE_CHART_SIZE)?;
    draw_lines(&root, title, x_label, y_label, series)?;
    finish(root)
}

/// One panel of [`curves_grid`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// Panel title, e.g. "Guide loss".
    pub title: String,
    /// Y axis label.
    pub y_label: String,
    /// `(name, points)` series, e.g. train and validation.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

/// Training curves in a grid, 1400x900 PNG: four panels are laid out 2x2 (in the order
/// given: loss / metric / guide loss / activeness); more panels add rows. The x axis is
/// labelled "epoch" (see [`curves_grid_with_x_label`]).
pub fn curves_grid(path: &Path, panels: &[Panel]) -> Result<()> {
    curves_grid_with_x_label(path, "epoch", panels)
}

/// [`curves_grid`] with a chosen x-axis label (e.g. "step").
pub fn curves_grid_with_x_label(path: &Path, x_label: &str, panels: &[Panel]) -> Result<()> {
    let root = canvas(path, CURVES_GRID_SIZE)?;
    if panels.is_empty() {
        draw_note(&root, "Training curves", "no data")?;
    } else {
        let cols = if panels.len() == 1 { 1 } else { 2 };
        let rows = panels.len().div_ceil(cols);
        let areas = root.split_evenly((rows, cols));
        for (panel, area) in panels.iter().zip(&areas) {
            draw_lines(area, &panel.title, x_label, &panel.y_label, &panel.series)?;
        }
    }
    finish(root)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::plot::tests::inspect;

    pub(in crate::plot) fn series() -> Vec<(String, Vec<(f64, f64)>)> {
        vec![
            (
                "train".to_string(),
                (0..30)
                    .map(|i| (i as f64, (-(i as f64) / 8.0).exp() + 0.1))
                    .collect(),
            ),
            (
                "valid".to_string(),
                (0..30)
                    .map(|i| (i as f64, (-(i as f64) / 10.0).exp() + 0.2))
                    .collect(),
            ),
        ]
    }

    #[test]
    fn line_chart_size_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/dir/loss.png");
        line_chart(&p, "Training loss", "epoch", "loss", &series()).unwrap();
        let (w, h, n) = inspect(&p);
        assert_eq!((w, h), (900, 500));
        assert!(n > 20, "only {n} colours");
    }

    #[test]
    fn line_chart_empty_and_nan() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.png");
        line_chart(&p, "Empty", "x", "y", &[]).unwrap();
        let (w, h, n) = inspect(&p);
        assert_eq!((w, h), (900, 500));
        assert!(n > 2, "the note must be drawn");
        let nan = vec![
            (
                "nan".to_string(),
                vec![(f64::NAN, 1.0), (1.0, f64::INFINITY)],
            ),
            ("none".to_string(), vec![]),
        ];
        line_chart(&p, "NaN", "x", "y", &nan).unwrap();
        assert_eq!(inspect(&p).0, 900);
        // One finite point, one constant series.
        let one = vec![
            ("one".to_string(), vec![(1.0, 2.0), (f64::NAN, f64::NAN)]),
            ("flat".to_string(), vec![(1.0, 2.0), (1.0, 2.0)]),
        ];
        line_chart(&p, "One", "x", "y", &one).unwrap();
        assert!(inspect(&p).2 > 5);
    }

    #[test]
    fn grid_layout() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("grid.png");
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
                series: vec![("train".into(), vec![(0.0, f64::NAN)])],
            },
            Panel {
                title: "Activeness".into(),
                y_label: "rho".into(),
                series: vec![],
            },
        ];
        curves_grid(&p, &panels).unwrap();
        let (w, h, n) = inspect(&p);
        assert_eq!((w, h), (1400, 900));
        assert!(n > 20);
        curves_grid(&p, &[]).unwrap();
        assert_eq!(inspect(&p).0, 1400);
        curves_grid_with_x_label(&p, "step", &panels[..1]).unwrap();
        assert_eq!(inspect(&p).1, 900);
    }
}
