//! What every figure shares: image sizes, the bundled font and text sizes, the palette (every
//! colour is defined here once, by name), and the helpers for canvases, "no data" notes, axis
//! ranges, tick text, axes and legends.

use crate::{ReportError, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------------
// Image sizes (pixels).

/// [`super::line_chart`].
pub(super) const LINE_CHART_SIZE: (u32, u32) = (900, 500);
/// [`super::curves_grid`].
pub(super) const CURVES_GRID_SIZE: (u32, u32) = (1400, 900);
/// [`super::diffres_figure`].
pub(super) const DIFFRES_FIGURE_SIZE: (u32, u32) = (1200, 1000);
/// [`super::experiment_plot`].
pub(super) const EXPERIMENT_PLOT_SIZE: (u32, u32) = (900, 550);
/// [`super::confusion_matrix_figure`].
pub(super) const CONFUSION_MATRIX_SIZE: (u32, u32) = (1000, 900);
/// [`super::per_class_change_figure`].
pub(super) const PER_CLASS_CHANGE_SIZE: (u32, u32) = (1200, 650);
/// [`super::warp_matrix_figure`].
pub(super) const WARP_MATRIX_SIZE: (u32, u32) = (1000, 700);
/// Size of [`super::bar_chart`].
pub(super) const BAR_CHART_SIZE: (u32, u32) = (900, 550);
/// Size of [`super::filter_responses_figure`].
pub(super) const FILTER_RESPONSES_SIZE: (u32, u32) = (1400, 600);

/// Height of the x tick-label area of a single chart.
pub(super) const X_LABEL_AREA: u32 = 48;
/// Width of the y tick-label area of a single chart.
pub(super) const Y_LABEL_AREA: u32 = 72;
/// Length of the line drawn for a series in a legend.
const LEGEND_SWATCH: i32 = 22;

// ---------------------------------------------------------------------------------------------
// Font.

/// Font family name under which the bundled font is registered.
const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Chart titles.
pub(super) const TITLE_PT: u32 = 22;
/// The title above a "no data" note.
const NOTE_TITLE_PT: u32 = 20;
/// The "no data" note itself.
pub(super) const NOTE_PT: u32 = 18;
/// Axis descriptions of a single chart.
pub(super) const AXIS_DESC_PT: u32 = 16;
/// Tick labels and legend entries of a single chart.
pub(super) const LABEL_PT: u32 = 14;
/// Captions of the stacked panels of [`super::diffres_figure`].
pub(super) const PANEL_CAPTION_PT: u32 = 17;
/// Axis descriptions of those panels.
pub(super) const PANEL_AXIS_DESC_PT: u32 = 15;
/// Tick labels of those panels.
pub(super) const PANEL_LABEL_PT: u32 = 13;

/// Registers the bundled font with plotters (once per process).
fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ReportError::Plot("cannot load the bundled font".into()))
    }
}

/// The bundled font at `size`, in black.
pub(super) fn font(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

// ---------------------------------------------------------------------------------------------
// Colours.

/// Tableau-10 blue.
pub(super) const BLUE: RGBColor = RGBColor(31, 119, 180);
/// Tableau-10 orange.
pub(super) const ORANGE: RGBColor = RGBColor(255, 127, 14);
/// Tableau-10 green.
pub(super) const GREEN: RGBColor = RGBColor(44, 160, 44);
/// Tableau-10 red (DiffRes in [`super::experiment_plot`], like the paper's "Proposed").
pub(super) const RED: RGBColor = RGBColor(214, 39, 40);
/// Tableau-10 purple.
pub(super) const PURPLE: RGBColor = RGBColor(148, 103, 189);
/// Tableau-10 brown.
pub(super) const BROWN: RGBColor = RGBColor(140, 86, 75);
/// Tableau-10 pink.
pub(super) const PINK: RGBColor = RGBColor(227, 119, 194);
/// Tableau-10 grey.
pub(super) const GREY: RGBColor = RGBColor(127, 127, 127);
/// Tableau-10 olive.
pub(super) const OLIVE: RGBColor = RGBColor(188, 189, 34);
/// Tableau-10 cyan.
pub(super) const CYAN: RGBColor = RGBColor(23, 190, 207);

/// Tableau-10 colours for the series, in order.
pub(super) const PALETTE: [RGBColor; 10] = [
    BLUE, ORANGE, GREEN, RED, PURPLE, BROWN, PINK, GREY, OLIVE, CYAN,
];

/// Minor grid lines of a single chart.
pub(super) const GRID_LIGHT: RGBColor = RGBColor(238, 238, 238);
/// Major grid lines of a single chart.
pub(super) const GRID_BOLD: RGBColor = RGBColor(215, 215, 215);
/// Minor grid lines of the score panel of [`super::diffres_figure`].
pub(super) const PANEL_GRID_LIGHT: RGBColor = RGBColor(240, 240, 240);
/// Major grid lines of that panel.
pub(super) const PANEL_GRID_BOLD: RGBColor = RGBColor(220, 220, 220);
/// Text of a "no data" note.
pub(super) const NOTE_TEXT: RGBColor = RGBColor(120, 120, 120);
/// Heatmap cells holding a non-finite value.
pub(super) const MISSING_CELL: RGBColor = RGBColor(200, 200, 200);
/// The identity baseline of [`super::experiment_plot`].
pub(super) const BASELINE: RGBColor = RGBColor(90, 90, 90);
/// Legend frame.
const LEGEND_BORDER: RGBColor = RGBColor(160, 160, 160);
/// Opacity of the white legend background.
const LEGEND_BACKGROUND_ALPHA: f64 = 0.85;

// ---------------------------------------------------------------------------------------------
// Canvas and notes.

/// Maps a plotters error to [`ReportError::Plot`].
pub(super) fn perr<E: std::fmt::Debug>(e: E) -> ReportError {
    ReportError::Plot(format!("{e:?}"))
}

/// Creates the parent folder of `path` if needed and registers the font.
fn prepare(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|source| ReportError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
    }
    ensure_font()
}

/// A white PNG canvas of `size` pixels to be written to `path` by [`finish`] (parent folders
/// are created first).
pub(super) fn canvas(
    path: &Path,
    size: (u32, u32),
) -> Result<DrawingArea<BitMapBackend<'_>, Shift>> {
    prepare(path)?;
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(perr)?;
    Ok(root)
}

/// Writes the canvas out.
pub(super) fn finish(root: DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()> {
    root.present().map_err(perr)
}

/// Writes a centred note (e.g. "no data") in an area, under an optional title.
pub(super) fn draw_note<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    note: &str,
) -> Result<()> {
    let (w, h) = area.dim_in_pixel();
    let centre = Pos::new(HPos::Center, VPos::Center);
    if !title.is_empty() {
        area.draw(&Text::new(
            title.to_string(),
            (w as i32 / 2, 20),
            font(NOTE_TITLE_PT).pos(centre),
        ))
        .map_err(perr)?;
    }
    area.draw(&Text::new(
        note.to_string(),
        (w as i32 / 2, h as i32 / 2),
        font(NOTE_PT).color(&NOTE_TEXT).pos(centre),
    ))
    .map_err(perr)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Axes.

/// A chart with `f64` coordinates on both axes.
pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Axis tick text: up to 4 decimals without trailing zeros ("5", "0.25"), scientific
/// notation for very small magnitudes.
pub(super) fn tick(v: &f64) -> String {
    let v = *v;
    if v != 0.0 && v.abs() < 1e-3 {
        return format!("{v:.1e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Finite (min, max) of an iterator, `None` if it has no finite value.
pub(super) fn finite_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Pads a range so that it is non-empty and has a margin around the data.
pub(super) fn padded((lo, hi): (f64, f64), frac: f64) -> (f64, f64) {
    let span = hi - lo;
    let (lo, hi) = if span > 0.0 && span.is_finite() {
        (lo - span * frac, hi + span * frac)
    } else {
        let pad = (lo.abs() * 0.05).max(0.5);
        (lo - pad, hi + pad)
    };
    if lo.is_finite() && hi.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (-1.0, 1.0)
    }
}

/// The axes of a single chart (line charts, the experiment plot): descriptions, tick text
/// and a light grid.
pub(super) fn draw_axes<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    x_desc: &str,
    y_desc: &str,
) -> Result<()> {
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(font(LABEL_PT))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .axis_desc_style(font(AXIS_DESC_PT))
        .light_line_style(GRID_LIGHT)
        .bold_line_style(GRID_BOLD)
        .draw()
        .map_err(perr)
}

// ---------------------------------------------------------------------------------------------
// Legends.

/// The legend entry of a series: a short horizontal line of `color`, `width` pixels thick.
pub(super) fn legend_line(
    color: RGBColor,
    width: u32,
) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| {
        PathElement::new(
            vec![(x, y), (x + LEGEND_SWATCH, y)],
            color.stroke_width(width),
        )
    }
}

/// Draws the legend of the labelled series at `position`, on a translucent white box.
pub(super) fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(LEGEND_BACKGROUND_ALPHA))
        .border_style(LEGEND_BORDER)
        .label_font(font(LABEL_PT))
        .draw()
        .map_err(perr)
}
