//! Figures that analyse finished runs: a confusion matrix, the change of a per-class metric
//! between two runs (the paper's Figure 10a) and one clip's warp matrix (Figure 11).
//!
//! Unlike the training figures, these check their input: an empty class list, matrices or
//! value lists whose lengths disagree, and warp entries outside the matrix are
//! [`ReportError::InvalidInput`] errors (and no file is written), since they mean the caller
//! paired the wrong data. Non-finite values are skipped as elsewhere.

use super::colormap::{cmap_color, Colormap};
use super::style::{
    canvas, draw_axes, draw_legend, draw_note, finish, finite_range, font, legend_line, padded,
    perr, tick, AXIS_DESC_PT, BASELINE, BLUE, CONFUSION_MATRIX_SIZE, GRID_BOLD, GRID_LIGHT,
    LABEL_PT, NOTE_TEXT, ORANGE, PER_CLASS_CHANGE_SIZE, RED, TITLE_PT, WARP_MATRIX_SIZE,
    X_LABEL_AREA, Y_LABEL_AREA,
};
use crate::{ReportError, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Class names longer than this many characters are cut (ending in "…") on the axes.
pub const MAX_NAME_CHARS: usize = 18;
/// Confusion matrices of up to this many classes have the count written in every cell.
pub const MAX_ANNOTATED_CLASSES: usize = 20;
/// Up to this many classes every class is named on the axes; beyond, the axes only say
/// what they hold (the CSV of [`PerClassChanges::to_csv`] has the names).
pub const MAX_NAMED_CLASSES: usize = 60;

/// Width of the strip on the right that holds a colour bar.
const COLORBAR_STRIP: u32 = 110;
/// Width of the colour bar's tick-label area.
const COLORBAR_LABEL_AREA: u32 = 58;
/// Size of the label areas that hold class names (rotated under the x axis, left of y).
const NAME_AREA: u32 = 170;
/// Class names on the axes.
const NAME_PT: u32 = 12;
/// Gap between an axis and the class names next to it, in pixels.
const NAME_GAP: i32 = 6;
/// Lightest shade (position in [`Colormap::Blues`]) of a non-zero warp weight, so that a
/// small weight stands out from the white of the zero cells.
const MIN_WEIGHT_SHADE: f64 = 0.15;
/// Row shares above this are written in white (on dark cells), the others in black.
const DARK_CELL: f64 = 0.5;
/// Fraction of a class slot a bar of [`per_class_change_figure`] fills.
const BAR_WIDTH: f64 = 0.8;

fn invalid(msg: String) -> ReportError {
    ReportError::InvalidInput(msg)
}

/// `name`, cut to [`MAX_NAME_CHARS`] characters (the last one "…") when longer.
pub fn short_name(name: &str) -> String {
    if name.chars().count() <= MAX_NAME_CHARS {
        return name.to_string();
    }
    let mut s: String = name.chars().take(MAX_NAME_CHARS - 1).collect();
    s.push('…');
    s
}

/// Draws class names along the axes of `chart` (on `root`, in pixel coordinates): names
/// `x_names[k]` under the slot `[k, k + 1)` of the x axis, rotated to read downwards, and
/// `y_names[k]` left of the slot `[k, k + 1)` of the y axis.
fn draw_class_names<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &super::style::Chart<'_, DB>,
    x_names: &[String],
    y_names: &[String],
) -> Result<()> {
    let (x_axis, y_axis) = (chart.x_range().start, chart.y_range().start);
    let style = font(NAME_PT);
    for (k, name) in x_names.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(k as f64 + 0.5, y_axis));
        let text = style
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(short_name(name), (x, y + NAME_GAP), text))
            .map_err(perr)?;
    }
    for (k, name) in y_names.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(x_axis, k as f64 + 0.5));
        let text = style.pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(short_name(name), (x - NAME_GAP, y), text))
            .map_err(perr)?;
    }
    Ok(())
}

/// A vertical colour bar for values `lo..hi` coloured by `color`, in `strip`, its ends level
/// with the rows `top..bottom` (pixels) of the plot next to it.
fn draw_colorbar<DB: DrawingBackend>(
    strip: &DrawingArea<DB, Shift>,
    (lo, hi): (f64, f64),
    (top, bottom): (i32, i32),
    color: impl Fn(f64) -> RGBColor,
) -> Result<()> {
    const STEPS: usize = 100;
    let (_, h) = strip.dim_in_pixel();
    let mut chart = ChartBuilder::on(strip)
        .margin_top(top.max(0) as u32)
        .margin_bottom((h as i32 - bottom).max(0) as u32)
        .margin_left(12)
        .margin_right(8)
        .set_label_area_size(LabelAreaPosition::Right, COLORBAR_LABEL_AREA)
        .build_cartesian_2d(0f64..1f64, lo..hi)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .label_style(font(LABEL_PT))
        .y_label_formatter(&tick)
        .y_labels(6)
        .draw()
        .map_err(perr)?;
    let step = (hi - lo) / STEPS as f64;
    chart
        .draw_series((0..STEPS).map(|k| {
            let v = lo + k as f64 * step;
            Rectangle::new([(0.0, v), (1.0, v + step)], color(v + step / 2.0).filled())
        }))
        .map_err(perr)?;
    Ok(())
}

/// First and last pixel rows of a chart's plotting area.
fn plot_rows<DB: DrawingBackend>(chart: &super::style::Chart<'_, DB>) -> (i32, i32) {
    let (_, rows) = chart.plotting_area().get_pixel_range();
    (rows.start, rows.end)
}

/// A confusion matrix, 1000x900 PNG: rows are the true classes (the first at the top),
/// columns the predicted ones (the first on the left), every cell shaded by its share of
/// its row (white 0 to dark blue 1, with a colour bar), so that classes of different sizes
/// compare; the count is written in each cell when there are at most
/// [`MAX_ANNOTATED_CLASSES`] classes, and the class names (cut to [`MAX_NAME_CHARS`]) label
/// both axes when there are at most [`MAX_NAMED_CLASSES`]. A class without samples has a
/// white row.
///
/// `confusion[true][predicted]` are sample counts, as in
/// [`Evaluation::confusion`](crate::Evaluation::confusion).
///
/// # Errors
/// [`ReportError::InvalidInput`] for no classes or a matrix that is not
/// `classes.len()` x `classes.len()`; drawing or I/O errors.
pub fn confusion_matrix_figure(
    path: &Path,
    classes: &[String],
    confusion: &[Vec<usize>],
    title: &str,
) -> Result<()> {
    let n = classes.len();
    if n == 0 {
        return Err(invalid("confusion matrix: no classes".into()));
    }
    if confusion.len() != n {
        return Err(invalid(format!(
            "confusion matrix: {n} classes but {} rows",
            confusion.len()
        )));
    }
    if let Some((i, row)) = confusion.iter().enumerate().find(|(_, r)| r.len() != n) {
        return Err(invalid(format!(
            "confusion matrix: row {i} has {} columns, expected {n}",
            row.len()
        )));
    }
    let root = canvas(path, CONFUSION_MATRIX_SIZE)?;
    let (w, _) = root.dim_in_pixel();
    let (main, strip) = root.split_horizontally(w - COLORBAR_STRIP);
    let named = n <= MAX_NAMED_CLASSES;
    let nf = n as f64;
    let mut chart = ChartBuilder::on(&main)
        .caption(title, font(TITLE_PT))
        .margin(14)
        .x_label_area_size(if named { NAME_AREA } else { X_LABEL_AREA })
        .y_label_area_size(if named { NAME_AREA } else { Y_LABEL_AREA })
        .build_cartesian_2d(0f64..nf, 0f64..nf)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .x_desc("predicted class")
        .y_desc("true class")
        .axis_desc_style(font(AXIS_DESC_PT))
        .draw()
        .map_err(perr)?;
    let sums: Vec<usize> = confusion.iter().map(|r| r.iter().sum()).collect();
    let share = |i: usize, j: usize| {
        if sums[i] > 0 {
            confusion[i][j] as f64 / sums[i] as f64
        } else {
            0.0
        }
    };
    // True class i on the row [n - 1 - i, n - i): the first class at the top.
    let row_y = |i: usize| (n - 1 - i) as f64;
    let cells = || (0..n).flat_map(|i| (0..n).map(move |j| (i, j)));
    chart
        .draw_series(cells().map(|(i, j)| {
            let (x, y) = (j as f64, row_y(i));
            Rectangle::new(
                [(x, y), (x + 1.0, y + 1.0)],
                cmap_color(Colormap::Blues, share(i, j)).filled(),
            )
        }))
        .map_err(perr)?;
    if n <= MAX_ANNOTATED_CLASSES {
        let (pw, ph) = chart.plotting_area().dim_in_pixel();
        let cell_px = pw.min(ph) as f64 / nf;
        let size = (cell_px / 3.5).clamp(8.0, 16.0) as u32;
        let centre = Pos::new(HPos::Center, VPos::Center);
        chart
            .draw_series(cells().map(|(i, j)| {
                let color: &'static RGBColor = if share(i, j) > DARK_CELL {
                    &WHITE
                } else {
                    &BLACK
                };
                Text::new(
                    confusion[i][j].to_string(),
                    (j as f64 + 0.5, row_y(i) + 0.5),
                    font(size).color(color).pos(centre),
                )
            }))
            .map_err(perr)?;
    }
    if named {
        let reversed: Vec<String> = classes.iter().rev().cloned().collect();
        draw_class_names(&root, &chart, classes, &reversed)?;
    }
    draw_colorbar(&strip, (0.0, 1.0), plot_rows(&chart), |v| {
        cmap_color(Colormap::Blues, v)
    })?;
    finish(root)
}

/// One class of [`PerClassChanges`]: its metric in both runs and the change `b - a`.
#[derive(Clone, Debug, PartialEq)]
pub struct PerClassChange {
    /// Class name.
    pub class: String,
    /// The metric in the first run (`a`).
    pub a: f64,
    /// The metric in the second run (`b`).
    pub b: f64,
    /// `b - a`.
    pub change: f64,
}

/// The change of a per-class metric between two runs, as [`per_class_change_figure`] draws
/// it (the paper's Figure 10a).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PerClassChanges {
    /// Classes with a finite value in both runs, largest change first (classes with equal
    /// changes in their original order).
    pub rows: Vec<PerClassChange>,
    /// Classes left out because one run (or both) has no finite value for them.
    pub left_out: usize,
}

impl PerClassChanges {
    /// CSV with a header `class,a,b,change` and one line per entry of [`Self::rows`], in
    /// their order; values as fractions, written so that they read back exactly; class
    /// names holding a comma, quote or line break are quoted.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("class,a,b,change\n");
        for r in &self.rows {
            s.push_str(&format!(
                "{},{},{},{}\n",
                csv_field(&r.class),
                r.a,
                r.b,
                r.change
            ));
        }
        s
    }

    /// Median of the changes (the mean of the middle two for an even count), `None`
    /// without rows.
    pub fn median_change(&self) -> Option<f64> {
        let n = self.rows.len();
        if n == 0 {
            return None;
        }
        // Rows are sorted by decreasing change.
        let mid = |k: usize| self.rows[k].change;
        Some(if n % 2 == 1 {
            mid(n / 2)
        } else {
            (mid(n / 2 - 1) + mid(n / 2)) / 2.0
        })
    }
}

/// A CSV field, quoted (with doubled quotes) when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The per-class change `b - a` of a metric between two runs, sorted by decreasing change;
/// classes where either value is `None` or non-finite are left out and counted in
/// [`PerClassChanges::left_out`].
///
/// # Errors
/// [`ReportError::InvalidInput`] for no classes, or when `metric_a` or `metric_b` does not
/// have one value per class.
pub fn per_class_changes(
    classes: &[String],
    metric_a: &[Option<f64>],
    metric_b: &[Option<f64>],
) -> Result<PerClassChanges> {
    if classes.is_empty() {
        return Err(invalid("per-class change: no classes".into()));
    }
    for (name, values) in [("first", metric_a), ("second", metric_b)] {
        if values.len() != classes.len() {
            return Err(invalid(format!(
                "per-class change: {} classes but {} values in the {name} run",
                classes.len(),
                values.len()
            )));
        }
    }
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
    let mut rows: Vec<PerClassChange> = classes
        .iter()
        .zip(metric_a.iter().zip(metric_b))
        .filter_map(|(class, (&a, &b))| {
            let (a, b) = (finite(a)?, finite(b)?);
            Some(PerClassChange {
                class: class.clone(),
                a,
                b,
                change: b - a,
            })
        })
        .collect();
    let left_out = classes.len() - rows.len();
    rows.sort_by(|x, y| y.change.total_cmp(&x.change));
    Ok(PerClassChanges { rows, left_out })
}

/// The paper's Figure 10a, 1200x650 PNG: one bar per class of the change `b - a` of a
/// per-class metric (`metric_name`, e.g. "AP") from the run `label_a` to the run `label_b`,
/// in percentage points, sorted by the change (largest first; gains blue, losses orange),
/// with a line at zero and the median change as a red dashed line. Classes are named under
/// their bars when there are at most [`MAX_NAMED_CLASSES`]. Classes without a value in
/// both runs are left out (see [`per_class_changes`]) and their number is noted in the
/// plot; when no class is left, the PNG says so.
///
/// # Errors
/// As [`per_class_changes`]; drawing or I/O errors.
pub fn per_class_change_figure(
    path: &Path,
    classes: &[String],
    metric_a: &[Option<f64>],
    metric_b: &[Option<f64>],
    label_a: &str,
    label_b: &str,
    metric_name: &str,
) -> Result<()> {
    let changes = per_class_changes(classes, metric_a, metric_b)?;
    let root = canvas(path, PER_CLASS_CHANGE_SIZE)?;
    let title = format!("Per-class {metric_name} change: {label_b} vs {label_a}");
    let m = changes.rows.len();
    let pp: Vec<f64> = changes.rows.iter().map(|r| r.change * 100.0).collect();
    let Some(yr) = finite_range(pp.iter().copied().chain([0.0])).filter(|_| m > 0) else {
        draw_note(&root, &title, "no class has a value in both runs")?;
        return finish(root);
    };
    let named = m <= MAX_NAMED_CLASSES;
    let (y0, y1) = padded(yr, 0.08);
    let mf = m as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(&title, font(TITLE_PT))
        .margin(14)
        .x_label_area_size(if named { NAME_AREA } else { X_LABEL_AREA })
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0f64..mf, y0..y1)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_desc("class, sorted by the change")
        .y_desc(format!("{metric_name} change (percentage points)"))
        .label_style(font(LABEL_PT))
        .y_label_formatter(&tick)
        .axis_desc_style(font(AXIS_DESC_PT))
        .light_line_style(GRID_LIGHT)
        .bold_line_style(GRID_BOLD)
        .draw()
        .map_err(perr)?;
    let pad = (1.0 - BAR_WIDTH) / 2.0;
    chart
        .draw_series(pp.iter().enumerate().map(|(k, &v)| {
            let color = if v >= 0.0 { BLUE } else { ORANGE };
            let x = k as f64;
            Rectangle::new([(x + pad, 0.0), (x + 1.0 - pad, v)], color.filled())
        }))
        .map_err(perr)?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (mf, 0.0)],
            BASELINE.stroke_width(1),
        )))
        .map_err(perr)?;
    if let Some(median) = changes.median_change() {
        let median = median * 100.0;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, median), (mf, median)],
                10,
                6,
                RED.stroke_width(2),
            ))
            .map_err(perr)?
            .label(format!("median {median:+.2} pp"))
            .legend(legend_line(RED, 2));
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    let gains = pp.iter().filter(|&&v| v > 0.0).count();
    let mut note = format!("{gains} of {m} classes gain");
    if changes.left_out > 0 {
        note.push_str(&format!(
            "; {} left out (no value in both runs)",
            changes.left_out
        ));
    }
    let (x, top) = chart.backend_coord(&(0.0, y1));
    root.draw(&Text::new(
        note,
        (x + 10, top + 8),
        font(LABEL_PT).color(&NOTE_TEXT),
    ))
    .map_err(perr)?;
    if named {
        let names: Vec<String> = changes.rows.iter().map(|r| r.class.clone()).collect();
        draw_class_names(&root, &chart, &names, &[])?;
    }
    finish(root)
}

/// The paper's Figure 11 for one clip, 1000x700 PNG: the warp matrix `W` (`rows` output
/// frames x `cols` input frames) as a heat map, input time on x (seconds at `hop_s` per
/// input frame; input frames when `hop_s` is not a positive number) and output frame on y
/// (the first at the bottom), so that a DiffRes warp reads as a staircase from the lower
/// left: steep where frames are kept, flat where they are merged. Zero cells are white,
/// non-zero weights shaded light to dark blue up to the largest (at least 1), with a colour
/// bar.
///
/// `entries` are the non-zero cells as `(output frame, input frame, weight)`; non-finite
/// and non-positive weights are drawn as zeros. A matrix without a positive weight is a PNG
/// saying so.
///
/// # Errors
/// [`ReportError::InvalidInput`] for an empty matrix (`rows` or `cols` zero) or an entry
/// outside it; drawing or I/O errors.
pub fn warp_matrix_figure(
    path: &Path,
    rows: usize,
    cols: usize,
    entries: &[(usize, usize, f64)],
    hop_s: f64,
    title: &str,
) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(invalid(format!("warp matrix: empty ({rows}x{cols})")));
    }
    if let Some(&(r, c, _)) = entries.iter().find(|&&(r, c, _)| r >= rows || c >= cols) {
        return Err(invalid(format!(
            "warp matrix: entry ({r}, {c}) outside the {rows}x{cols} matrix"
        )));
    }
    let root = canvas(path, WARP_MATRIX_SIZE)?;
    let positive: Vec<(usize, usize, f64)> = entries
        .iter()
        .copied()
        .filter(|e| e.2.is_finite() && e.2 > 0.0)
        .collect();
    let Some((_, max_w)) = finite_range(positive.iter().map(|e| e.2)) else {
        draw_note(&root, title, "no non-zero weight")?;
        return finish(root);
    };
    let hi = max_w.max(1.0);
    let (hop, x_desc) = if hop_s.is_finite() && hop_s > 0.0 {
        (hop_s, "input time (s)")
    } else {
        (1.0, "input frame")
    };
    let shade = |w: f64| {
        cmap_color(
            Colormap::Blues,
            MIN_WEIGHT_SHADE + (1.0 - MIN_WEIGHT_SHADE) * (w / hi),
        )
    };
    let (w, _) = root.dim_in_pixel();
    let (main, strip) = root.split_horizontally(w - COLORBAR_STRIP);
    let mut chart = ChartBuilder::on(&main)
        .caption(title, font(TITLE_PT))
        .margin(14)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0f64..cols as f64 * hop, 0f64..rows as f64)
        .map_err(perr)?;
    draw_axes(&mut chart, x_desc, "output frame")?;
    chart
        .draw_series(positive.iter().map(|&(r, c, v)| {
            let (x, y) = (c as f64 * hop, r as f64);
            Rectangle::new([(x, y), (x + hop, y + 1.0)], shade(v).filled())
        }))
        .map_err(perr)?;
    draw_colorbar(&strip, (0.0, hi), plot_rows(&chart), shade)?;
    finish(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::tests::inspect;

    /// Copies a PNG to `$DIFFRES_REPORT_KEEP_PNG` for a visual check.
    fn keep(p: &Path, name: &str) {
        if let Ok(keep) = std::env::var("DIFFRES_REPORT_KEEP_PNG") {
            std::fs::copy(p, Path::new(&keep).join(name)).unwrap();
        }
    }

    fn names(n: usize) -> Vec<String> {
        (0..n)
            .map(|k| format!("class number {k} with a long name"))
            .collect()
    }

    #[test]
    fn short_names() {
        assert_eq!(short_name("dog"), "dog");
        let cut = short_name("a very long class name indeed");
        assert_eq!(cut.chars().count(), MAX_NAME_CHARS);
        assert!(cut.ends_with('…') && cut.starts_with("a very long"));
    }

    #[test]
    fn confusion_matrix_size_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("confusion.png");
        let classes = vec!["dog".to_string(), "rain".into(), "crying baby".into()];
        let confusion = vec![vec![5, 1, 0], vec![2, 3, 1], vec![0, 0, 0]];
        confusion_matrix_figure(&p, &classes, &confusion, "Confusion").unwrap();
        let (w, h, n) = inspect(&p);
        assert_eq!((w, h), (1000, 900));
        assert!(n > 10, "only {n} colours");
        keep(&p, "confusion.png");
        // Large: no counts, no names.
        let big = 80;
        let m: Vec<Vec<usize>> = (0..big)
            .map(|i| {
                (0..big)
                    .map(|j| usize::from(i == j) * 3 + (i + j) % 2)
                    .collect()
            })
            .collect();
        confusion_matrix_figure(&p, &names(big), &m, "Big").unwrap();
        assert_eq!(inspect(&p).0, 1000);
        // Bad input is an error, not a panic, and writes nothing.
        let bad = dir.path().join("bad.png");
        for (c, m) in [
            (vec![], vec![]),
            (classes.clone(), vec![vec![1, 2, 3]]),
            (
                classes.clone(),
                vec![vec![1, 2, 3], vec![1, 2], vec![0, 0, 0]],
            ),
        ] {
            let e = confusion_matrix_figure(&bad, &c, &m, "x").unwrap_err();
            assert!(matches!(e, ReportError::InvalidInput(_)), "{e}");
        }
        assert!(!bad.exists());
    }

    #[test]
    fn per_class_changes_sorted_by_change() {
        let classes: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        let a = [Some(0.5), Some(0.25), None, Some(0.75), Some(1.0)];
        let b = [Some(0.75), Some(0.25), Some(0.5), Some(0.5), Some(f64::NAN)];
        let ch = per_class_changes(&classes, &a, &b).unwrap();
        assert_eq!(ch.left_out, 2);
        let got: Vec<(&str, f64)> = ch
            .rows
            .iter()
            .map(|r| (r.class.as_str(), r.change))
            .collect();
        assert_eq!(got, vec![("a", 0.25), ("b", 0.0), ("d", -0.25)]);
        assert_eq!(ch.median_change(), Some(0.0));
        assert_eq!(
            ch.to_csv(),
            "class,a,b,change\na,0.5,0.75,0.25\nb,0.25,0.25,0\nd,0.75,0.5,-0.25\n"
        );
        let quoted = PerClassChanges {
            rows: vec![PerClassChange {
                class: "dog, \"big\"".into(),
                a: 0.0,
                b: 1.0,
                change: 1.0,
            }],
            left_out: 0,
        };
        assert!(quoted.to_csv().ends_with("\"dog, \"\"big\"\"\",0,1,1\n"));
        let two = per_class_changes(&classes[..2], &a[..2], &b[..2]).unwrap();
        assert_eq!(two.median_change(), Some(0.125));
        assert_eq!(PerClassChanges::default().median_change(), None);
        // Mismatched or empty input.
        for (c, x, y) in [
            (&classes[..0], &a[..0], &b[..0]),
            (&classes[..], &a[..4], &b[..]),
            (&classes[..], &a[..], &b[..1]),
        ] {
            assert!(matches!(
                per_class_changes(c, x, y),
                Err(ReportError::InvalidInput(_))
            ));
        }
    }

    #[test]
    fn per_class_change_size_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("per-class.png");
        let n = 30;
        let a: Vec<Option<f64>> = (0..n).map(|k| Some(0.5 + 0.01 * k as f64)).collect();
        let mut b: Vec<Option<f64>> = (0..n)
            .map(|k| Some(0.6 - 0.007 * (k as f64 * 1.7).sin()))
            .collect();
        b[3] = None;
        per_class_change_figure(&p, &names(n), &a, &b, "hop 40 ms", "hop 10 ms", "AP").unwrap();
        let (w, h, colours) = inspect(&p);
        assert_eq!((w, h), (1200, 650));
        assert!(colours > 10);
        keep(&p, "per-class.png");
        // Many classes (no names) and no class in common are still PNGs.
        let many = 300;
        let a: Vec<Option<f64>> = (0..many).map(|k| Some((k % 7) as f64 / 7.0)).collect();
        let b: Vec<Option<f64>> = (0..many).map(|k| Some((k % 5) as f64 / 5.0)).collect();
        per_class_change_figure(&p, &names(many), &a, &b, "A", "B", "AP").unwrap();
        assert_eq!(inspect(&p).1, 650);
        per_class_change_figure(
            &p,
            &names(2),
            &[None, None],
            &[Some(1.0), None],
            "A",
            "B",
            "AP",
        )
        .unwrap();
        assert_eq!(inspect(&p).0, 1200);
        let bad = dir.path().join("bad.png");
        let e = per_class_change_figure(&bad, &names(2), &[None], &[None, None], "A", "B", "AP")
            .unwrap_err();
        assert!(matches!(e, ReportError::InvalidInput(_)), "{e}");
        assert!(!bad.exists());
    }

    #[test]
    fn warp_matrix_size_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("warp.png");
        // 8 input frames into 4 output frames: two kept, the rest merged.
        let entries = vec![
            (0, 0, 1.0),
            (1, 1, 1.0),
            (2, 2, 0.5),
            (2, 3, 0.5),
            (3, 4, 0.25),
            (3, 5, 0.25),
            (3, 6, 0.25),
            (3, 7, 0.25),
        ];
        warp_matrix_figure(&p, 4, 8, &entries, 0.01, "Warp").unwrap();
        let (w, h, n) = inspect(&p);
        assert_eq!((w, h), (1000, 700));
        assert!(n > 5, "only {n} colours");
        keep(&p, "warp-small.png");
        // A realistic size, frames on x, and a matrix without weight.
        let big: Vec<(usize, usize, f64)> = (0..1000).map(|j| (j / 4, j, 0.25)).collect();
        warp_matrix_figure(&p, 250, 1000, &big, f64::NAN, "Big").unwrap();
        keep(&p, "warp-big.png");
        warp_matrix_figure(&p, 2, 3, &[(0, 0, 0.0), (1, 1, f64::NAN)], 0.01, "Zero").unwrap();
        assert_eq!(inspect(&p).1, 700);
        let bad = dir.path().join("bad.png");
        for (r, c, e) in [(0, 4, vec![]), (4, 0, vec![]), (4, 8, vec![(4, 0, 1.0)])] {
            let err = warp_matrix_figure(&bad, r, c, &e, 0.01, "x").unwrap_err();
            assert!(matches!(err, ReportError::InvalidInput(_)), "{err}");
        }
        assert!(!bad.exists());
    }
}
