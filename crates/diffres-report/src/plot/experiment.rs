//! Metric vs frames per second from an [`ExperimentTable`] (the paper's Table 1 as a plot).

use super::style::{
    canvas, draw_axes, draw_legend, draw_note, finish, finite_range, font, legend_line, padded,
    perr, BASELINE, BLUE, BROWN, EXPERIMENT_PLOT_SIZE, GREEN, ORANGE, PINK, PURPLE, RED, TITLE_PT,
    X_LABEL_AREA, Y_LABEL_AREA,
};
use crate::table::ExperimentTable;
use crate::Result;
use plotters::prelude::*;
use std::path::Path;

/// `(nominal fps, mean %, std %)` of one cell in [`experiment_plot`].
type ErrPoint = (f64, f64, f64);

/// The front end drawn in [`DIFFRES_COLOR`].
const DIFFRES: &str = "DiffRes";
/// DiffRes in red like the paper's "Proposed".
const DIFFRES_COLOR: RGBColor = RED;
/// The other front ends, by column index: the palette without red.
const OTHER_COLORS: [RGBColor; 6] = [BLUE, ORANGE, GREEN, PURPLE, BROWN, PINK];
/// Opacity of the ± std band of the baseline.
const BASELINE_BAND_ALPHA: f64 = 0.12;

/// Metric vs FPS from an [`ExperimentTable`], 900x550 PNG: one line per front end with
/// ± std error bars, the identity baseline as a horizontal dashed line. Values in %; the x axis
/// is the nominal rate ([`crate::table::TableRow::nominal_fps`]), as in the Markdown table.
pub fn experiment_plot(path: &Path, table: &ExperimentTable) -> Result<()> {
    let root = canvas(path, EXPERIMENT_PLOT_SIZE)?;
    let title = format!("{} vs frames per second", table.metric);
    // (nominal fps, mean %, std %) per column.
    let lines: Vec<(String, Vec<ErrPoint>)> = table
        .column_names()
        .into_iter()
        .enumerate()
        .map(|(j, name)| {
            let mut pts: Vec<ErrPoint> = table
                .rows
                .iter()
                .filter_map(|r| {
                    let c = r.cells.get(j).copied().flatten()?;
                    let std = if c.std.is_finite() {
                        c.std * 100.0
                    } else {
                        0.0
                    };
                    (r.nominal_fps.is_finite() && c.mean.is_finite()).then_some((
                        r.nominal_fps,
                        c.mean * 100.0,
                        std,
                    ))
                })
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (name, pts)
        })
        .collect();
    let baseline = table.baseline.filter(|b| b.mean.is_finite()).map(|b| {
        (
            b.mean * 100.0,
            if b.std.is_finite() {
                b.std * 100.0
            } else {
                0.0
            },
        )
    });
    let xs = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .chain(table.baseline_nominal_fps.filter(|_| baseline.is_some()));
    let ys = lines
        .iter()
        .flat_map(|(_, p)| p.iter().flat_map(|q| [q.1 - q.2, q.1 + q.2]))
        .chain(baseline.iter().flat_map(|b| [b.0 - b.1, b.0 + b.1]));
    let (Some(xr), Some(yr)) = (finite_range(xs), finite_range(ys)) else {
        draw_note(&root, &title, "no data")?;
        return finish(root);
    };
    let (x0, x1) = padded(xr, 0.06);
    let (y0, y1) = padded(yr, 0.08);
    let mut chart = ChartBuilder::on(&root)
        .caption(&title, font(TITLE_PT))
        .margin(14)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(perr)?;
    draw_axes(
        &mut chart,
        "output frames per second (nominal FPS)",
        &format!("{} (%)", table.metric),
    )?;
    if let Some((bm, bs)) = baseline {
        if bs > 0.0 {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, bm - bs), (x1, bm + bs)],
                    BASELINE.mix(BASELINE_BAND_ALPHA).filled(),
                )))
                .map_err(perr)?;
        }
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, bm), (x1, bm)],
                10,
                6,
                BASELINE.stroke_width(2),
            ))
            .map_err(perr)?
            .label(format!("Baseline (identity) {bm:.1}"))
            .legend(legend_line(BASELINE, 2));
    }
    for (i, (name, pts)) in lines.iter().enumerate() {
        if pts.is_empty() {
            continue;
        }
        let color = if name == DIFFRES {
            DIFFRES_COLOR
        } else {
            OTHER_COLORS[i % OTHER_COLORS.len()]
        };
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, p.1)),
                color.stroke_width(2),
            ))
            .map_err(perr)?
            .label(name.as_str())
            .legend(legend_line(color, 3));
        chart
            .draw_series(pts.iter().map(|&(x, m, s)| {
                ErrorBar::new_vertical(x, m - s, m, m + s, color.stroke_width(2), 10)
            }))
            .map_err(perr)?;
        chart
            .draw_series(
                pts.iter()
                    .map(|&(x, m, _)| Circle::new((x, m), 4, color.filled())),
            )
            .map_err(perr)?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    finish(root)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::plot::tests::inspect;
    use crate::results::RunResults;

    fn run(frontend: &str, reduction: f64, seed: u64, m: f64) -> RunResults {
        RunResults {
            frontend: frontend.into(),
            reduction,
            seed,
            fps: 100.0 * (1.0 - reduction),
            metric: "accuracy".into(),
            test_metric: Some(m),
            frames_in: None,
            frames_out: None,
            hop_ms: Some(10.0),
            nominal_fps: None,
            ..Default::default()
        }
    }

    pub(in crate::plot) fn example_table() -> ExperimentTable {
        let mut runs = Vec::new();
        for s in 0..3 {
            let e = s as f64 * 0.004;
            runs.push(run("identity", 0.0, s, 0.852 + e));
            for (r, base) in [(0.75, 0.0), (0.5, 0.06), (0.25, 0.09)] {
                runs.push(run("changehopsize", r, s, 0.746 + base + e));
                runs.push(run("avgpool", r, s, 0.756 + base + e * 0.5));
                runs.push(run("convavgpool", r, s, 0.724 + base * 0.9 + e * 2.0));
                runs.push(run("diffres", r, s, 0.829 + base * 0.4 + e));
            }
        }
        ExperimentTable::from_results(&runs)
    }

    #[test]
    fn experiment_plot_size_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fps.png");
        experiment_plot(&p, &example_table()).unwrap();
        let (w, h, n) = inspect(&p);
        assert_eq!((w, h), (900, 550));
        assert!(n > 20);
        // Empty and NaN tables.
        experiment_plot(&p, &ExperimentTable::from_results(&[])).unwrap();
        assert_eq!(inspect(&p).0, 900);
        let t = ExperimentTable::from_results(&[run("identity", 0.0, 0, f64::NAN)]);
        experiment_plot(&p, &t).unwrap();
        let t = ExperimentTable::from_results(&[run("identity", 0.0, 0, 0.5)]);
        experiment_plot(&p, &t).unwrap();
        assert_eq!(inspect(&p).1, 550);
    }
}
