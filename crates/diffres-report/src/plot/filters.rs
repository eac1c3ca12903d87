//! The frequency responses of a learnable filterbank's filters (TD-fbank, SincNet, LEAF):
//! one panel per state (e.g. the mel initialisation and the learned filters), every filter's
//! magnitude response in dB relative to its own peak.

use super::style::{
    canvas, draw_axes, draw_note, finish, font, perr, FILTER_RESPONSES_SIZE, PALETTE, TITLE_PT,
    X_LABEL_AREA, Y_LABEL_AREA,
};
use crate::{ReportError, Result};
use plotters::prelude::*;
use std::path::Path;

/// Lowest level drawn, dB below each filter's peak.
pub const RESPONSE_FLOOR_DB: f64 = -60.0;

/// A filter's magnitude response in dB relative to its peak, floored at
/// [`RESPONSE_FLOOR_DB`] (an all-zero filter is all floor).
pub fn relative_db(magnitudes: &[f64]) -> Vec<f64> {
    let peak = magnitudes.iter().copied().fold(0.0, f64::max);
    magnitudes
        .iter()
        .map(|&m| {
            if peak > 0.0 && m > 0.0 {
                (20.0 * (m / peak).log10()).max(RESPONSE_FLOOR_DB)
            } else {
                RESPONSE_FLOOR_DB
            }
        })
        .collect()
}

/// Draws `panels` side by side, each `(title, responses)` with `responses[filter][bin]`
/// magnitudes at `bins` evenly spaced frequencies from 0 to `sample_rate / 2`, in dB relative
/// to each filter's peak (see [`relative_db`]), one thin line per filter, 1400x600 PNG.
///
/// # Errors
/// No panel, a panel without filters, filters of different lengths (fewer than 2 bins), a
/// sample rate that is not positive, or plotting errors.
pub fn filter_responses_figure(
    path: &Path,
    title: &str,
    sample_rate: f64,
    panels: &[(String, Vec<Vec<f64>>)],
) -> Result<()> {
    let bad = |why: String| Err(ReportError::InvalidInput(why));
    if panels.is_empty() {
        return bad("filter responses: no panel to draw".into());
    }
    if !(sample_rate > 0.0 && sample_rate.is_finite()) {
        return bad(format!("filter responses: sample rate {sample_rate}"));
    }
    let bins = panels[0].1.first().map_or(0, Vec::len);
    for (name, responses) in panels {
        if responses.is_empty() || responses.iter().any(|r| r.len() != bins) || bins < 2 {
            return bad(format!(
                "filter responses '{name}': every filter needs the same number (>= 2) of bins"
            ));
        }
    }
    let root = canvas(path, FILTER_RESPONSES_SIZE)?;
    let (top, body) = root.split_vertically(40);
    top.titled(title, font(TITLE_PT)).map_err(perr)?;
    let nyquist = sample_rate / 2.0;
    let areas = body.split_evenly((1, panels.len()));
    for ((name, responses), area) in panels.iter().zip(&areas) {
        if responses.iter().all(|r| r.iter().all(|v| !v.is_finite())) {
            draw_note(area, name, "no data")?;
            continue;
        }
        let mut chart = ChartBuilder::on(area)
            .caption(name, font(TITLE_PT))
            .margin(12)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(0.0..nyquist, RESPONSE_FLOOR_DB..3.0)
            .map_err(perr)?;
        draw_axes(&mut chart, "frequency (Hz)", "response (dB re peak)")?;
        for (i, response) in responses.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let points = relative_db(response)
                .into_iter()
                .enumerate()
                .map(|(k, db)| (k as f64 * nyquist / (bins - 1) as f64, db));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(1)))
                .map_err(perr)?;
        }
    }
    finish(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_drawn_relative_to_their_peak_and_bad_input_is_refused() {
        assert_eq!(
            relative_db(&[1.0, 0.1, 0.0]),
            vec![0.0, -20.0, RESPONSE_FLOOR_DB]
        );
        assert_eq!(relative_db(&[0.0, 0.0]), vec![RESPONSE_FLOOR_DB; 2]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("filters.png");
        let bump = |c: f64| {
            (0..65)
                .map(|k| (-(k as f64 - c).powi(2) / 20.0).exp())
                .collect()
        };
        let panels = vec![
            ("initial".to_string(), vec![bump(10.0), bump(30.0)]),
            ("learned".to_string(), vec![bump(12.0), bump(40.0)]),
        ];
        filter_responses_figure(&path, "filters", 16_000.0, &panels).unwrap();
        let (w, h, colours) = super::super::tests::inspect(&path);
        assert_eq!((w, h), FILTER_RESPONSES_SIZE);
        assert!(colours > 3, "lines were drawn");
        assert!(filter_responses_figure(&path, "x", 16_000.0, &[]).is_err());
        let ragged = vec![("r".to_string(), vec![vec![1.0; 4], vec![1.0; 5]])];
        assert!(filter_responses_figure(&path, "x", 16_000.0, &ragged).is_err());
        assert!(filter_responses_figure(&path, "x", 0.0, &panels).is_err());
    }
}
