//! PNG plots: training curves, the paper's Figure 4 layout, and metric vs FPS.
//!
//! Text is drawn with a bundled copy of DejaVu Sans (see `assets/`), registered with
//! plotters on first use, so no system font is needed at run time.
//!
//! Every function returns a [`Result`] and never panics on empty or non-finite data:
//! non-finite points are skipped, and a plot without any data is still a valid PNG of
//! the documented size carrying a "no data" note. Missing parent folders are created.

use crate::table::ExperimentTable;
use crate::{ReportError, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

/// Font family name under which the bundled font is registered.
const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

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

fn perr<E: std::fmt::Debug>(e: E) -> ReportError {
    ReportError::Plot(format!("{e:?}"))
}

fn font(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// Tableau-10 colours for the series.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A perceptual colormap for heatmaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colormap {
    /// matplotlib's viridis (dark blue -> green -> yellow).
    Viridis,
    /// matplotlib's magma (black -> purple -> orange -> light yellow).
    Magma,
}

const VIRIDIS: [u32; 10] = [
    0x440154, 0x482878, 0x3E4A89, 0x31688E, 0x26828E, 0x1F9E89, 0x35B779, 0x6DCD59, 0xB4DE2C,
    0xFDE725,
];
const MAGMA: [u32; 10] = [
    0x000004, 0x180F3E, 0x451077, 0x721F81, 0x9F2F7F, 0xCD4071, 0xF1605D, 0xFD9567, 0xFEC98D,
    0xFCFDBF,
];

/// Colour of `t` in `[0, 1]` (clamped; NaN maps to 0) by linear interpolation between
/// ten anchors of the colormap.
pub fn colormap(map: Colormap, t: f64) -> (u8, u8, u8) {
    let anchors = match map {
        Colormap::Viridis => &VIRIDIS,
        Colormap::Magma => &MAGMA,
    };
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (anchors.len() - 1) as f64;
    let i = (pos.floor() as usize).min(anchors.len() - 2);
    let f = pos - i as f64;
    let ch = |c: u32, shift: u32| ((c >> shift) & 0xFF) as f64;
    let mix = |shift| {
        let a = ch(anchors[i], shift);
        let b = ch(anchors[i + 1], shift);
        (a + (b - a) * f).round().clamp(0.0, 255.0) as u8
    };
    (mix(16), mix(8), mix(0))
}

fn cmap_color(map: Colormap, t: f64) -> RGBColor {
    let (r, g, b) = colormap(map, t);
    RGBColor(r, g, b)
}

/// Creates the parent folder of `path` if needed.
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

/// Writes a centred note (e.g. "no data") in an area, under an optional title.
fn draw_note<DB: DrawingBackend>(
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
            font(20).pos(centre),
        ))
        .map_err(perr)?;
    }
    area.draw(&Text::new(
        note.to_string(),
        (w as i32 / 2, h as i32 / 2),
        font(18).color(&RGBColor(120, 120, 120)).pos(centre),
    ))
    .map_err(perr)?;
    Ok(())
}

/// Axis tick text: up to 4 decimals without trailing zeros ("5", "0.25"), scientific
/// notation for very small magnitudes.
fn tick(v: &f64) -> String {
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
fn finite_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Pads a range so that it is non-empty and has a margin around the data.
fn padded((lo, hi): (f64, f64), frac: f64) -> (f64, f64) {
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

type Series = (String, Vec<(f64, f64)>);

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
        .caption(title, font(22))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(font(14))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .axis_desc_style(font(16))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(perr)?;
    for (i, (name, pts)) in clean.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(perr)?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
            });
        if pts.len() <= 60 {
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
        chart
            .configure_series_labels()
            .position(if high {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            })
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .label_font(font(14))
            .draw()
            .map_err(perr)?;
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
    prepare(path)?;
    let root = BitMapBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(perr)?;
    draw_lines(&root, title, x_label, y_label, series)?;
    root.present().map_err(perr)?;
    Ok(())
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
    prepare(path)?;
    let root = BitMapBackend::new(path, (1400, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(perr)?;
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
    root.present().map_err(perr)?;
    Ok(())
}

/// Data for [`diffres_figure`] (the paper's Figure 4) for one clip.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiffResFigure {
    /// Figure title.
    pub title: String,
    /// Hop size of the input frames in seconds (e.g. 0.01); a non-positive or
    /// non-finite value draws the time axis in frames instead.
    pub hop_seconds: f64,
    /// Importance score `s` of the `T` input frames.
    pub score: Vec<f32>,
    /// Input log-mel spectrogram, `[T][F]`.
    pub input: Vec<Vec<f32>>,
    /// DiffRes output, mean channel, `[t][F]`.
    pub output_mean: Vec<Vec<f32>>,
    /// Time extent of each output frame on the input axis, `[t]` of `(start, end)` in
    /// input frames. When its length differs from `output_mean`, uniform extents are
    /// used.
    pub output_extent: Vec<(f64, f64)>,
    /// Resolution encoding, `[t][F]`.
    pub resolution_encoding: Vec<Vec<f32>>,
}

/// Robust colour range of heatmap values (0.5 % and 99.5 % quantiles of the finite
/// values), `None` without finite values.
fn robust_range<'a>(rows: impl Iterator<Item = &'a Vec<f32>>) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = rows
        .flatten()
        .filter(|x| x.is_finite())
        .map(|&x| x as f64)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    let (lo, hi) = (q(0.005), q(0.995));
    Some(if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    })
}

/// One heatmap column: time extent in seconds and the values of the bins.
struct HeatColumn<'a> {
    x0: f64,
    x1: f64,
    values: &'a [f32],
}

struct HeatmapSpec<'a> {
    caption: String,
    x_end: f64,
    x_desc: Option<&'a str>,
    y_desc: &'a str,
    columns: Vec<HeatColumn<'a>>,
    range: Option<(f64, f64)>,
    map: Colormap,
    boundaries: bool,
}

const LEFT_AREA: u32 = 70;
const BOTTOM_AREA: u32 = 34;

/// Draws a heatmap panel with time on x and bins on y (bin 0 at the bottom).
fn draw_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    spec: HeatmapSpec,
) -> Result<()> {
    let n_bins = spec
        .columns
        .iter()
        .map(|c| c.values.len())
        .max()
        .unwrap_or(0);
    let Some((lo, hi)) = spec
        .range
        .filter(|_| n_bins > 0 && !spec.columns.is_empty())
    else {
        return draw_panel_note(area, &spec.caption, spec.x_end, spec.x_desc);
    };
    let caption = format!("{} [colour range {:.2} … {:.2}]", spec.caption, lo, hi);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(17))
        .margin_left(10)
        .margin_right(25)
        .margin_top(4)
        .x_label_area_size(BOTTOM_AREA)
        .y_label_area_size(LEFT_AREA)
        .build_cartesian_2d(0f64..spec.x_end, 0f64..n_bins as f64)
        .map_err(perr)?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_mesh()
        .y_desc(spec.y_desc)
        .label_style(font(13))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .axis_desc_style(font(15));
    if let Some(d) = spec.x_desc {
        mesh.x_desc(d);
    }
    mesh.draw().map_err(perr)?;
    let missing = RGBColor(200, 200, 200);
    let span = hi - lo;
    chart
        .draw_series(spec.columns.iter().flat_map(|c| {
            c.values.iter().enumerate().map(move |(f, &v)| {
                let color = if v.is_finite() {
                    cmap_color(spec.map, (v as f64 - lo) / span)
                } else {
                    missing
                };
                Rectangle::new([(c.x0, f as f64), (c.x1, f as f64 + 1.0)], color.filled())
            })
        }))
        .map_err(perr)?;
    if spec.boundaries {
        // A boundary is drawn where at least one of its two frames is MIN_PX pixels
        // wide, so that merged (wide) frames are outlined while runs of narrow kept
        // frames stay readable instead of turning into hatching.
        const MIN_PX: f64 = 4.0;
        let px_per_unit = chart.plotting_area().dim_in_pixel().0 as f64 / spec.x_end;
        let mut cols: Vec<(f64, f64)> = spec.columns.iter().map(|c| (c.x0, c.x1)).collect();
        cols.sort_by(|a, b| a.0.total_cmp(&b.0));
        let wide = |c: &(f64, f64)| (c.1 - c.0) * px_per_unit >= MIN_PX;
        let mut xs = Vec::new();
        for (k, c) in cols.iter().enumerate() {
            if wide(c) || (k > 0 && wide(&cols[k - 1])) {
                xs.push(c.0);
            }
            if k + 1 == cols.len() && wide(c) {
                xs.push(c.1);
            }
        }
        xs.sort_by(f64::total_cmp);
        xs.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        let line = WHITE.mix(0.5).stroke_width(1);
        chart
            .draw_series(
                xs.into_iter()
                    .map(|x| PathElement::new(vec![(x, 0.0), (x, n_bins as f64)], line)),
            )
            .map_err(perr)?;
    }
    Ok(())
}

/// Heatmap columns of output frames placed at their extents (input frames -> seconds);
/// frames without a valid extent are skipped.
fn extent_columns<'a>(
    rows: &'a [Vec<f32>],
    extents: &[Option<(f64, f64)>],
    hop: f64,
) -> Vec<HeatColumn<'a>> {
    rows.iter()
        .zip(extents)
        .filter_map(|(row, e)| {
            e.map(|(a, b)| HeatColumn {
                x0: a * hop,
                x1: b * hop,
                values: row,
            })
        })
        .collect()
}

/// An empty panel (caption, axes frame, "no data"), keeping the shared time axis.
fn draw_panel_note<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    x_end: f64,
    x_desc: Option<&str>,
) -> Result<()> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(17))
        .margin_left(10)
        .margin_right(25)
        .margin_top(4)
        .x_label_area_size(BOTTOM_AREA)
        .y_label_area_size(LEFT_AREA)
        .build_cartesian_2d(0f64..x_end, 0f64..1f64)
        .map_err(perr)?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_mesh()
        .disable_y_axis()
        .label_style(font(13))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick);
    if let Some(d) = x_desc {
        mesh.x_desc(d).axis_desc_style(font(15));
    }
    mesh.draw().map_err(perr)?;
    chart
        .draw_series(std::iter::once(Text::new(
            "no data",
            (x_end / 2.0, 0.5),
            font(18)
                .color(&RGBColor(120, 120, 120))
                .pos(Pos::new(HPos::Center, VPos::Center)),
        )))
        .map_err(perr)?;
    Ok(())
}

/// The paper's Figure 4 for one clip, 1200x1000 PNG, four panels stacked with a shared
/// time axis (seconds):
///
/// * (a) the importance score `s` over the `T` input frames;
/// * (b) the input log-mel spectrogram as a heatmap (low mel bins at the bottom, viridis);
/// * (c) the DiffRes output (mean channel), each output frame drawn over its true time
///   extent on the input axis (merged frames wide, kept frames narrow) with thin
///   boundaries, on the same colour scale as (b);
/// * (d) the resolution encoding, drawn the same way (magma).
///
/// Empty or non-finite data never panics: missing panels say "no data", non-finite
/// cells are grey, non-finite scores and extents are skipped.
pub fn diffres_figure(path: &Path, fig: &DiffResFigure) -> Result<()> {
    prepare(path)?;
    let root = BitMapBackend::new(path, (1200, 1000)).into_drawing_area();
    root.fill(&WHITE).map_err(perr)?;
    let body = root
        .titled(&fig.title, font(22).pos(Pos::new(HPos::Center, VPos::Top)))
        .map_err(perr)?;

    let (hop, unit) = if fig.hop_seconds.is_finite() && fig.hop_seconds > 0.0 {
        (fig.hop_seconds, "Time (s)")
    } else {
        (1.0, "Time (input frames)")
    };
    let t_out = fig.output_mean.len().max(fig.resolution_encoding.len());
    let t_in_data = fig.score.len().max(fig.input.len());
    // Extents in input frames, validated.
    let extents: Vec<Option<(f64, f64)>> = if fig.output_extent.len() == t_out {
        fig.output_extent
            .iter()
            .map(|&(a, b)| (a.is_finite() && b.is_finite() && a != b).then(|| (a.min(b), a.max(b))))
            .collect()
    } else {
        let t_in = if t_in_data > 0 { t_in_data } else { t_out };
        let w = t_in as f64 / t_out.max(1) as f64;
        (0..t_out)
            .map(|k| Some((k as f64 * w, (k + 1) as f64 * w)))
            .collect()
    };
    let ext_end = extents.iter().flatten().map(|e| e.1).fold(0.0, f64::max);
    let t_in = (t_in_data as f64).max(ext_end);
    let x_end = if t_in > 0.0 { t_in * hop } else { 1.0 };

    let (_, h) = body.dim_in_pixel();
    let h = h as i32;
    let b1 = h * 19 / 100;
    let b2 = b1 + h * 27 / 100;
    let b3 = b2 + h * 27 / 100;
    let areas = body.split_by_breakpoints([] as [i32; 0], [b1, b2, b3]);
    if areas.len() != 4 {
        return Err(ReportError::Plot("unexpected layout".into()));
    }

    // (a) importance score.
    let score_pts: Vec<(f64, f64)> = fig
        .score
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_finite())
        .map(|(i, &s)| ((i as f64 + 0.5) * hop, s as f64))
        .collect();
    let cap_a = "(a) Frame importance score s";
    if score_pts.is_empty() {
        draw_panel_note(&areas[0], cap_a, x_end, None)?;
    } else {
        let (smin, smax) = finite_range(score_pts.iter().map(|p| p.1)).unwrap_or((0.0, 1.0));
        let y0 = smin.min(0.0);
        let y1 = smax.max(1.0) * 1.05;
        let mut chart = ChartBuilder::on(&areas[0])
            .caption(cap_a, font(17))
            .margin_left(10)
            .margin_right(25)
            .margin_top(4)
            .x_label_area_size(BOTTOM_AREA)
            .y_label_area_size(LEFT_AREA)
            .build_cartesian_2d(0f64..x_end, y0..y1)
            .map_err(perr)?;
        chart
            .configure_mesh()
            .y_desc("score")
            .label_style(font(13))
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .axis_desc_style(font(15))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(220, 220, 220))
            .y_labels(4)
            .draw()
            .map_err(perr)?;
        let color = RGBColor(31, 119, 180);
        chart
            .draw_series(std::iter::once(Polygon::new(
                std::iter::once((score_pts[0].0, 0.0))
                    .chain(score_pts.iter().copied())
                    .chain(std::iter::once((score_pts[score_pts.len() - 1].0, 0.0)))
                    .collect::<Vec<_>>(),
                color.mix(0.2).filled(),
            )))
            .map_err(perr)?;
        chart
            .draw_series(LineSeries::new(
                score_pts.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(perr)?;
    }

    // (b) input spectrogram, (c) output: shared colour scale.
    let spec_range = robust_range(fig.input.iter().chain(fig.output_mean.iter()));
    let input_cols: Vec<HeatColumn> = fig
        .input
        .iter()
        .enumerate()
        .map(|(i, row)| HeatColumn {
            x0: i as f64 * hop,
            x1: (i + 1) as f64 * hop,
            values: row,
        })
        .collect();
    draw_heatmap(
        &areas[1],
        HeatmapSpec {
            caption: format!("(b) Input log-mel spectrogram ({} frames)", fig.input.len()),
            x_end,
            x_desc: None,
            y_desc: "mel bin",
            columns: input_cols,
            range: spec_range,
            map: Colormap::Viridis,
            boundaries: false,
        },
    )?;
    let out_cols = |rows| extent_columns(rows, &extents, hop);
    draw_heatmap(
        &areas[2],
        HeatmapSpec {
            caption: format!(
                "(c) DiffRes output, mean channel ({} frames at their input time extent)",
                fig.output_mean.len()
            ),
            x_end,
            x_desc: None,
            y_desc: "mel bin",
            columns: out_cols(&fig.output_mean),
            range: spec_range,
            map: Colormap::Viridis,
            boundaries: true,
        },
    )?;
    draw_heatmap(
        &areas[3],
        HeatmapSpec {
            caption: "(d) Resolution encoding".into(),
            x_end,
            x_desc: Some(unit),
            y_desc: "dimension",
            columns: out_cols(&fig.resolution_encoding),
            range: robust_range(fig.resolution_encoding.iter()),
            map: Colormap::Magma,
            boundaries: true,
        },
    )?;
    root.present().map_err(perr)?;
    Ok(())
}

/// `(nominal fps, mean %, std %)` of one cell in [`experiment_plot`].
type ErrPoint = (f64, f64, f64);

/// Metric vs FPS from an [`ExperimentTable`], 900x550 PNG: one line per front end with
/// ± std error bars, the identity baseline as a horizontal dashed line. Values in %; the x axis
/// is the nominal rate ([`crate::table::TableRow::nominal_fps`]), as in the Markdown table.
pub fn experiment_plot(path: &Path, table: &ExperimentTable) -> Result<()> {
    prepare(path)?;
    let root = BitMapBackend::new(path, (900, 550)).into_drawing_area();
    root.fill(&WHITE).map_err(perr)?;
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
        root.present().map_err(perr)?;
        return Ok(());
    };
    let (x0, x1) = padded(xr, 0.06);
    let (y0, y1) = padded(yr, 0.08);
    let mut chart = ChartBuilder::on(&root)
        .caption(&title, font(22))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .x_desc("output frames per second (nominal FPS)")
        .y_desc(format!("{} (%)", table.metric))
        .label_style(font(14))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .axis_desc_style(font(16))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(perr)?;
    if let Some((bm, bs)) = baseline {
        let grey = RGBColor(90, 90, 90);
        if bs > 0.0 {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, bm - bs), (x1, bm + bs)],
                    grey.mix(0.12).filled(),
                )))
                .map_err(perr)?;
        }
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, bm), (x1, bm)],
                10,
                6,
                grey.stroke_width(2),
            ))
            .map_err(perr)?
            .label(format!("Baseline (identity) {bm:.1}"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], grey.stroke_width(2))
            });
    }
    for (i, (name, pts)) in lines.iter().enumerate() {
        if pts.is_empty() {
            continue;
        }
        // DiffRes in red like the paper's "Proposed"; others from the palette.
        let color = if name == "DiffRes" {
            RGBColor(214, 39, 40)
        } else {
            [
                PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[4], PALETTE[5], PALETTE[6],
            ][i % 6]
        };
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, p.1)),
                color.stroke_width(2),
            ))
            .map_err(perr)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
            });
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
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .label_font(font(14))
        .draw()
        .map_err(perr)?;
    root.present().map_err(perr)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::RunResult;
    use std::collections::HashSet;

    /// Reads a PNG back: (width, height, number of distinct colours).
    fn inspect(path: &Path) -> (u32, u32, usize) {
        let img = image::open(path).unwrap().to_rgb8();
        let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        (img.width(), img.height(), colours.len())
    }

    fn series() -> Vec<(String, Vec<(f64, f64)>)> {
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
    fn colormap_endpoints() {
        assert_eq!(colormap(Colormap::Viridis, 0.0), (0x44, 0x01, 0x54));
        assert_eq!(colormap(Colormap::Viridis, 1.0), (0xFD, 0xE7, 0x25));
        assert_eq!(colormap(Colormap::Magma, -3.0), (0x00, 0x00, 0x04));
        assert_eq!(colormap(Colormap::Magma, f64::NAN), (0x00, 0x00, 0x04));
        assert_eq!(colormap(Colormap::Magma, 7.0), (0xFC, 0xFD, 0xBF));
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

    /// A synthetic clip: two "events" on a quiet background, and the extents that a
    /// DiffRes layer keeping half the frames would produce.
    pub(crate) fn synthetic_figure(t_in: usize, f: usize) -> DiffResFigure {
        let input: Vec<Vec<f32>> = (0..t_in)
            .map(|i| {
                let loud = (20..35).contains(&(i % 100)) || (60..70).contains(&(i % 100));
                (0..f)
                    .map(|k| {
                        let base = -8.0 - 4.0 * k as f32 / f as f32;
                        if loud {
                            base + 7.0 + 2.0 * ((k as f32 / 6.0).sin())
                        } else {
                            base + 0.3 * ((i * 7 + k * 3) % 5) as f32
                        }
                    })
                    .collect()
            })
            .collect();
        let raw: Vec<f64> = input
            .iter()
            .map(|r| if r[0] > -5.0 { 1.0 } else { 0.25 })
            .collect();
        let t_out = t_in / 2;
        let sum: f64 = raw.iter().sum();
        let score: Vec<f32> = raw
            .iter()
            .map(|r| (r * t_out as f64 / sum).min(1.0) as f32)
            .collect();
        // Extents: output frame k covers the input span where cumsum(s) is in [k, k+1).
        let mut cum = vec![0.0f64];
        for &s in &score {
            cum.push(cum.last().unwrap() + s as f64);
        }
        let pos = |target: f64| -> f64 {
            let j = cum.partition_point(|&c| c < target).clamp(1, cum.len() - 1);
            let (a, b) = (cum[j - 1], cum[j]);
            (j - 1) as f64 + if b > a { (target - a) / (b - a) } else { 0.0 }
        };
        let total = *cum.last().unwrap();
        let t_out = (total.floor() as usize).max(1);
        let output_extent: Vec<(f64, f64)> = (0..t_out)
            .map(|k| (pos(k as f64), pos((k + 1) as f64)))
            .collect();
        let output_mean = output_extent
            .iter()
            .map(|&(a, b)| {
                let (a, b) = (
                    a.floor() as usize,
                    (b.ceil() as usize).min(t_in).max(a.floor() as usize + 1),
                );
                (0..f)
                    .map(|k| input[a..b].iter().map(|r| r[k]).sum::<f32>() / (b - a) as f32)
                    .collect()
            })
            .collect();
        let resolution_encoding = output_extent
            .iter()
            .map(|&(a, b)| {
                (0..f)
                    .map(|d| {
                        let p = (a + b) / 2.0;
                        let w = p / 10000f64.powf((d / 2 * 2) as f64 / f as f64);
                        (if d % 2 == 0 { w.sin() } else { w.cos() } * (b - a)) as f32
                    })
                    .collect()
            })
            .collect();
        DiffResFigure {
            title: "DiffRes on a synthetic clip (50% of frames kept)".into(),
            hop_seconds: 0.01,
            score,
            input,
            output_mean,
            output_extent,
            resolution_encoding,
        }
    }

    #[test]
    fn diffres_figure_size_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fig4.png");
        diffres_figure(&p, &synthetic_figure(200, 64)).unwrap();
        let (w, h, n) = inspect(&p);
        assert_eq!((w, h), (1200, 1000));
        assert!(n > 100, "only {n} colours");
        if let Ok(keep) = std::env::var("DIFFRES_REPORT_KEEP_PNG") {
            std::fs::copy(&p, Path::new(&keep).join("fig4.png")).unwrap();
        }
    }

    #[test]
    fn diffres_figure_degenerate_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fig.png");
        diffres_figure(&p, &DiffResFigure::default()).unwrap();
        let (w, h, n) = inspect(&p);
        assert_eq!((w, h), (1200, 1000));
        assert!(n > 2);
        let mut fig = synthetic_figure(50, 8);
        fig.hop_seconds = f64::NAN;
        fig.score[3] = f32::NAN;
        fig.input[2][1] = f32::NAN;
        fig.output_extent[0] = (f64::NAN, 2.0);
        fig.output_extent.pop(); // length mismatch -> uniform extents
        fig.resolution_encoding.clear();
        diffres_figure(&p, &fig).unwrap();
        assert_eq!(inspect(&p).0, 1200);
        let fig = DiffResFigure {
            input: vec![vec![f32::NAN; 4]; 3],
            output_mean: vec![vec![]; 2],
            score: vec![f32::NAN; 3],
            hop_seconds: -1.0,
            ..Default::default()
        };
        diffres_figure(&p, &fig).unwrap();
        assert_eq!(inspect(&p).1, 1000);
    }

    fn run(frontend: &str, reduction: f64, seed: u64, m: f64) -> RunResult {
        RunResult {
            frontend: frontend.into(),
            reduction,
            seed,
            fps: 100.0 * (1.0 - reduction),
            metric: "accuracy".into(),
            test_metric: m,
            frames_in: None,
            frames_out: None,
            hop_ms: Some(10.0),
            nominal_fps: None,
        }
    }

    pub(crate) fn example_table() -> ExperimentTable {
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
