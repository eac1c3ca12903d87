//! The paper's Figure 4 for one clip: importance score, input spectrogram, DiffRes output at
//! each frame's true time extent, and the resolution encoding, on a shared time axis.

use super::colormap::{cmap_color, Colormap};
use super::style::{
    canvas, finish, finite_range, font, perr, tick, BLUE, DIFFRES_FIGURE_SIZE, MISSING_CELL,
    NOTE_PT, NOTE_TEXT, PANEL_AXIS_DESC_PT, PANEL_CAPTION_PT, PANEL_GRID_BOLD, PANEL_GRID_LIGHT,
    PANEL_LABEL_PT, TITLE_PT,
};
use crate::{ReportError, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

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
    /// Input log-mel spectrogram (or a learnable filterbank's output), `[T][F]`.
    pub input: Vec<Vec<f32>>,
    /// What the input is, for panel (b)'s caption; empty: "log-mel spectrogram".
    pub input_name: String,
    /// DiffRes output, mean channel, `[t][F]`.
    pub output_mean: Vec<Vec<f32>>,
    /// Time extent of each output frame on the input axis, `[t]` of `(start, end)` in
    /// input frames. When its length differs from `output_mean`, uniform extents are
    /// used.
    pub output_extent: Vec<(f64, f64)>,
    /// Resolution encoding, `[t][F]`.
    pub resolution_encoding: Vec<Vec<f32>>,
}

/// Width of the y tick-label area of every panel (so that the time axes line up).
const LEFT_AREA: u32 = 70;
/// Height of the x tick-label area of every panel.
const BOTTOM_AREA: u32 = 34;
/// Opacity of the white lines between output frames.
const BOUNDARY_ALPHA: f64 = 0.5;
/// Opacity of the fill under the score curve.
const SCORE_FILL_ALPHA: f64 = 0.2;

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

/// The chart builder of one stacked panel: caption, margins and label areas shared by all
/// four panels so that their time axes line up.
fn panel<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(caption, font(PANEL_CAPTION_PT))
        .margin_left(10)
        .margin_right(25)
        .margin_top(4)
        .x_label_area_size(BOTTOM_AREA)
        .y_label_area_size(LEFT_AREA);
    builder
}

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
    let mut chart = panel(area, &caption)
        .build_cartesian_2d(0f64..spec.x_end, 0f64..n_bins as f64)
        .map_err(perr)?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_mesh()
        .y_desc(spec.y_desc)
        .label_style(font(PANEL_LABEL_PT))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .axis_desc_style(font(PANEL_AXIS_DESC_PT));
    if let Some(d) = spec.x_desc {
        mesh.x_desc(d);
    }
    mesh.draw().map_err(perr)?;
    let span = hi - lo;
    chart
        .draw_series(spec.columns.iter().flat_map(|c| {
            c.values.iter().enumerate().map(move |(f, &v)| {
                let color = if v.is_finite() {
                    cmap_color(spec.map, (v as f64 - lo) / span)
                } else {
                    MISSING_CELL
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
        let line = WHITE.mix(BOUNDARY_ALPHA).stroke_width(1);
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
    let mut chart = panel(area, caption)
        .build_cartesian_2d(0f64..x_end, 0f64..1f64)
        .map_err(perr)?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_mesh()
        .disable_y_axis()
        .label_style(font(PANEL_LABEL_PT))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick);
    if let Some(d) = x_desc {
        mesh.x_desc(d).axis_desc_style(font(PANEL_AXIS_DESC_PT));
    }
    mesh.draw().map_err(perr)?;
    chart
        .draw_series(std::iter::once(Text::new(
            "no data",
            (x_end / 2.0, 0.5),
            font(NOTE_PT)
                .color(&NOTE_TEXT)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        )))
        .map_err(perr)?;
    Ok(())
}

/// Panel (a): the importance score over the input frames, filled below the curve.
fn draw_score<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    score: &[f32],
    hop: f64,
    x_end: f64,
) -> Result<()> {
    let score_pts: Vec<(f64, f64)> = score
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_finite())
        .map(|(i, &s)| ((i as f64 + 0.5) * hop, s as f64))
        .collect();
    let cap_a = "(a) Frame importance score s";
    if score_pts.is_empty() {
        return draw_panel_note(area, cap_a, x_end, None);
    }
    let (smin, smax) = finite_range(score_pts.iter().map(|p| p.1)).unwrap_or((0.0, 1.0));
    let y0 = smin.min(0.0);
    let y1 = smax.max(1.0) * 1.05;
    let mut chart = panel(area, cap_a)
        .build_cartesian_2d(0f64..x_end, y0..y1)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .y_desc("score")
        .label_style(font(PANEL_LABEL_PT))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .axis_desc_style(font(PANEL_AXIS_DESC_PT))
        .light_line_style(PANEL_GRID_LIGHT)
        .bold_line_style(PANEL_GRID_BOLD)
        .y_labels(4)
        .draw()
        .map_err(perr)?;
    let color = BLUE;
    chart
        .draw_series(std::iter::once(Polygon::new(
            std::iter::once((score_pts[0].0, 0.0))
                .chain(score_pts.iter().copied())
                .chain(std::iter::once((score_pts[score_pts.len() - 1].0, 0.0)))
                .collect::<Vec<_>>(),
            color.mix(SCORE_FILL_ALPHA).filled(),
        )))
        .map_err(perr)?;
    chart
        .draw_series(LineSeries::new(
            score_pts.iter().copied(),
            color.stroke_width(2),
        ))
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
    let root = canvas(path, DIFFRES_FIGURE_SIZE)?;
    let body = root
        .titled(
            &fig.title,
            font(TITLE_PT).pos(Pos::new(HPos::Center, VPos::Top)),
        )
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
    draw_score(&areas[0], &fig.score, hop, x_end)?;

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
            caption: format!(
                "(b) Input {} ({} frames)",
                if fig.input_name.is_empty() {
                    "log-mel spectrogram"
                } else {
                    fig.input_name.as_str()
                },
                fig.input.len()
            ),
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
    finish(root)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::plot::tests::inspect;

    /// A synthetic clip: two "events" on a quiet background, and the extents that a
    /// DiffRes layer keeping half the frames would produce.
    pub(in crate::plot) fn synthetic_figure(t_in: usize, f: usize) -> DiffResFigure {
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
            input_name: String::new(),
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
}
