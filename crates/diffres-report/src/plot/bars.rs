//! A bar chart of one metric per column with its spread over seeds (the paper's Table 3 as a
//! figure).

use super::style::{
    canvas, draw_note, finish, font, perr, BAR_CHART_SIZE, PALETTE, TITLE_PT, X_LABEL_AREA,
    Y_LABEL_AREA,
};
use crate::{ReportError, Result};
use plotters::prelude::*;
use std::path::Path;

/// One bar: its label, value and the standard deviation drawn as an error bar (`None`: one
/// run, no bar).
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// Label under the bar.
    pub label: String,
    /// Height.
    pub value: f64,
    /// Standard deviation over seeds.
    pub std: Option<f64>,
}

/// Draws `bars` left to right with their values written above them, 900x550 PNG. The y axis
/// starts a little below the lowest bar (bars of 90-98% are told apart), at 0 when a value is
/// near it. Non-finite values are left out; without any, the PNG carries a "no data" note.
///
/// # Errors
/// No bar at all, or plotting errors.
pub fn bar_chart(path: &Path, title: &str, y_label: &str, bars: &[Bar]) -> Result<()> {
    if bars.is_empty() {
        return Err(ReportError::InvalidInput(
            "bar chart: no bar to draw".into(),
        ));
    }
    let root = canvas(path, BAR_CHART_SIZE)?;
    let finite: Vec<(usize, &Bar)> = bars
        .iter()
        .enumerate()
        .filter(|(_, b)| b.value.is_finite())
        .collect();
    if finite.is_empty() {
        draw_note(&root, title, "no data")?;
        return finish(root);
    }
    let top = finite
        .iter()
        .map(|(_, b)| b.value + b.std.unwrap_or(0.0))
        .fold(f64::NEG_INFINITY, f64::max);
    let low = finite
        .iter()
        .map(|(_, b)| b.value - b.std.unwrap_or(0.0))
        .fold(f64::INFINITY, f64::min);
    let span = (top - low).max(top.abs() * 0.05).max(1e-9);
    let y0 = if low - span < 0.0 || low <= 0.0 {
        low.min(0.0)
    } else {
        low - span
    };
    let y1 = top + 0.15 * (top - y0).max(1e-9);
    let n = bars.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, font(TITLE_PT))
        .margin(16)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(-0.5..n as f64 - 0.5, y0..y1)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                bars[i as usize].label.clone()
            } else {
                String::new()
            }
        })
        .y_desc(y_label)
        .label_style(font(14))
        .draw()
        .map_err(perr)?;
    for &(i, bar) in &finite {
        let color = PALETTE[i % PALETTE.len()];
        let x = i as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x - 0.35, y0), (x + 0.35, bar.value)],
                color.filled(),
            )))
            .map_err(perr)?;
        if let Some(std) = bar.std.filter(|s| s.is_finite() && *s > 0.0) {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, bar.value - std), (x, bar.value + std)],
                    BLACK.stroke_width(2),
                )))
                .map_err(perr)?;
        }
        let text = match bar.std {
            Some(s) if s.is_finite() => format!("{:.1} ± {:.1}", bar.value, s),
            _ => format!("{:.1}", bar.value),
        };
        let above = bar.value + bar.std.unwrap_or(0.0).max(0.0) + 0.02 * (y1 - y0);
        chart
            .draw_series(std::iter::once(Text::new(
                text,
                (x - 0.3, above + 0.04 * (y1 - y0)),
                font(14),
            )))
            .map_err(perr)?;
    }
    finish(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_drawn_and_nothing_to_draw_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bars.png");
        let bar = |label: &str, value: f64, std: Option<f64>| Bar {
            label: label.into(),
            value,
            std,
        };
        let bars = vec![
            bar("Mel", 93.6, Some(0.3)),
            bar("LEAF", 93.6, None),
            bar("Mel+DiffRes", 95.4, Some(0.2)),
            bar("missing", f64::NAN, None),
        ];
        bar_chart(&path, "Table 3", "accuracy (%)", &bars).unwrap();
        let (w, h, colours) = super::super::tests::inspect(&path);
        assert_eq!((w, h), BAR_CHART_SIZE);
        assert!(colours > 4);
        assert!(bar_chart(&path, "x", "y", &[]).is_err());
        bar_chart(&path, "x", "y", &[bar("nan", f64::NAN, None)]).unwrap();
    }
}
