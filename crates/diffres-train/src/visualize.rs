//! Figure 4 for audio files (score, input, DiffRes output at its true time extents,
//! resolution encoding) and, for DiffRes, Figure 11 (the clip's warp matrix); Figures 6-7
//! (activeness and guide loss) from a run. The confusion matrix and Figure 10a are in
//! [`crate::analysis_figures`].

use std::path::{Path, PathBuf};

use burn::prelude::*;
use diffres_report::{line_chart, DiffResFigure};

use crate::error::{io_err, Result, TrainError};
use crate::filterbank::LearnedFilterbank;
use crate::inference::{full_features, LoadedRun};
use crate::run::EpochMetrics;
use diffres_audio::LogMelSpec;

fn rows(values: Vec<f32>, width: usize) -> Vec<Vec<f32>> {
    values.chunks(width.max(1)).map(<[f32]>::to_vec).collect()
}

/// A part of a file, in seconds; `end_s: None` runs to the end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    /// Start in seconds.
    pub start_s: f64,
    /// End in seconds, or the end of the file.
    pub end_s: Option<f64>,
}

impl Span {
    /// The whole file.
    pub const WHOLE: Span = Span {
        start_s: 0.0,
        end_s: None,
    };

    /// Frame range `[start, end)` of a file of `frames` frames at `hop_s` seconds per frame.
    ///
    /// # Errors
    /// A span that is empty, reversed or starts after the end of the file.
    pub fn frames(&self, frames: usize, hop_s: f64) -> Result<(usize, usize)> {
        let bad = |why: &str| Err(TrainError::Config(format!("--start/--end: {why}")));
        if !(self.start_s >= 0.0 && self.start_s.is_finite()) {
            return bad("the start must be a number of seconds >= 0");
        }
        let start = (self.start_s / hop_s).floor() as usize;
        let end = self
            .end_s
            .map_or(frames, |e| ((e / hop_s).ceil() as usize).min(frames));
        if start >= frames {
            return bad(&format!(
                "starts at {} s, after the end of the audio ({:.2} s)",
                self.start_s,
                frames as f64 * hop_s
            ));
        }
        if end <= start {
            return bad("the end must come after the start");
        }
        Ok((start, end))
    }
}

/// Writes one `<file stem>.png` per file into `out` and returns the paths: the whole file, or
/// the part `span` chooses, at the run's hop (the front end runs on all of it, with the run's
/// reduction, so a 10 s file at 25% keeps 250 of its 1,000 frames).
///
/// For a DiffRes run the figure shows what DiffRes kept and merged, and a second file,
/// `<file stem>-warp.png`, draws the clip's warp matrix `W` (output frames x input frames,
/// the paper's Figure 11, see [`diffres_report::warp_matrix_figure`]); for a baseline, the
/// figure shows its uniform output and there is no warp matrix.
///
/// # Errors
/// Unreadable files, a span outside a file, front-end or plotting errors.
pub fn visualize_files(
    run: &LoadedRun,
    files: &[PathBuf],
    span: Span,
    out: &Path,
    reporter: &dyn crate::reporter::Reporter,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let mels = run.info.config.mels;
    let hop = run.info.config.hop_ms as f64 / 1000.0;
    let mut written = Vec::new();
    for file in files {
        let features = full_features(run, file)?;
        for warning in &features.warnings {
            reporter.warn(&warning.to_string());
        }
        let spec = frontend_input(run, features.spec)?;
        let (start, end) = span.frames(spec.frames, hop)?;
        let frames = end - start;
        let data = spec.data[start * mels..end * mels].to_vec();
        let input = rows(data.clone(), mels);
        let x = Tensor::<3>::from_data(TensorData::new(data, [1, frames, mels]), &run.device);
        let output = run.model.frontend.forward(x, None)?;
        let [_, _, t, _] = output.feature.dims();
        // DiffRes's channels (fewer in its ablations); a baseline has one.
        let layout = match &run.model.frontend {
            diffres::FrontEnd::DiffRes(m) => Some(m.channels()),
            _ => None,
        };
        let read = |c: usize| -> Vec<Vec<f32>> {
            let v: Vec<f32> = output
                .feature
                .clone()
                .narrow(1, c, 1)
                .into_data()
                .convert::<f32>()
                .try_to_vec()
                .expect("float data");
            rows(v, mels)
        };
        let score: Vec<f32> = match &output.score {
            Some(s) => s
                .to_data()
                .convert::<f32>()
                .try_to_vec()
                .expect("float data"),
            None => Vec::new(),
        };
        // Off flex the layer keeps no host plan: build it from the scores read above.
        let plan = output.plan.clone().or_else(|| {
            (score.len() == frames).then(|| {
                let host: Vec<f64> = score.iter().map(|&s| f64::from(s)).collect();
                diffres::WarpPlan::new(&host, 1, frames, t)
            })
        });
        let extent = match &plan {
            Some(plan) => plan.extents(0),
            None => (0..t)
                .map(|k| {
                    (
                        k as f64 * frames as f64 / t as f64,
                        (k + 1) as f64 * frames as f64 / t as f64,
                    )
                })
                .collect(),
        };
        let stem = file
            .file_stem()
            .map_or("clip".into(), |s| s.to_string_lossy().into_owned());
        let span_text = format!("{:.2}-{:.2} s", start as f64 * hop, end as f64 * hop);
        let figure = DiffResFigure {
            title: format!(
                "{stem} {span_text}: {} ({} -> {} frames)",
                run.info.config.frontend, frames, t
            ),
            hop_seconds: hop,
            score,
            input,
            input_name: match run.info.config.filterbank {
                crate::filterbank::FilterbankKind::Mel => String::new(),
                fb => format!("{} features", fb.label()),
            },
            // The mean channel (the max where an ablation keeps only that).
            output_mean: read(layout.and_then(|l| l.mean()).unwrap_or(0)),
            output_extent: extent,
            resolution_encoding: layout.and_then(|l| l.resolution()).map_or(Vec::new(), read),
        };
        let path = out.join(format!("{stem}.png"));
        diffres_report::diffres_figure(&path, &figure)?;
        written.push(path);
        if let (Some(plan), Some(_)) = (&plan, layout) {
            let path = out.join(format!("{stem}-warp.png"));
            warp_figure(&path, plan, frames, hop, &format!("{stem} {span_text}"))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// What the temporal front end sees of a file: its features, or for a learnable filterbank
/// the filterbank's output of its waveform (`[frames][filters]` at the hop).
fn frontend_input(run: &LoadedRun, spec: LogMelSpec) -> Result<LogMelSpec> {
    let Some(fb) = &run.model.filterbank else {
        return Ok(spec);
    };
    let x = Tensor::<2>::from_data(TensorData::new(spec.data, [1, spec.frames]), &run.device);
    let features = fb.forward(x)?;
    let [_, frames, filters] = features.dims();
    Ok(LogMelSpec {
        frames,
        n_mels: filters,
        data: diffres::host::read_f32(&features),
    })
}

/// Frequency bins of [`filterbank_figure`], from 0 to the Nyquist frequency.
pub const FILTER_RESPONSE_BINS: usize = 257;

/// Writes `filters.png` into `out` for a run with a learnable filterbank: every filter's
/// magnitude response, the mel initialisation (a fresh filterbank of the run's geometry)
/// beside the learned filters; `None` for a run on fixed features.
///
/// # Errors
/// Filterbank or plotting errors.
pub fn filterbank_figure(run: &LoadedRun, out: &Path) -> Result<Option<PathBuf>> {
    let Some(learned) = &run.model.filterbank else {
        return Ok(None);
    };
    let cfg = &run.info.config;
    let initial =
        LearnedFilterbank::new(cfg.filterbank, cfg.filterbank_geometry(), &run.device)?
            .ok_or_else(|| TrainError::Config("the run's filterbank is not learnable".into()))?;
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let path = out.join("filters.png");
    let panels = vec![
        (
            "initialisation (mel scale)".to_string(),
            initial.magnitude_responses(FILTER_RESPONSE_BINS),
        ),
        (
            "learned".to_string(),
            learned.magnitude_responses(FILTER_RESPONSE_BINS),
        ),
    ];
    let title = format!(
        "{}: {} filters, frequency responses",
        cfg.filterbank.label(),
        cfg.mels
    );
    diffres_report::filter_responses_figure(&path, &title, cfg.sample_rate as f64, &panels)?;
    Ok(Some(path))
}

/// Draws the warp matrix of the first (only) clip of `plan`, `frames` input frames at `hop`
/// seconds, titled after `what` (the clip and its span).
fn warp_figure(
    path: &Path,
    plan: &diffres::WarpPlan,
    frames: usize,
    hop: f64,
    what: &str,
) -> Result<()> {
    let t = plan.out_frames();
    // The plan lists (input frame, output frame, weight); the figure takes W[row, col].
    let entries: Vec<(usize, usize, f64)> = plan
        .sparse(0)
        .into_iter()
        .map(|(j, k, w)| (k, j, w))
        .collect();
    let warp = match plan.kind() {
        diffres::WarpKind::Full => "equation 5 + Algorithm 1",
        diffres::WarpKind::Eq5 => "equation 5 alone",
    };
    let title = format!("{what}: warp matrix W ({t} x {frames}, {warp})");
    diffres_report::warp_matrix_figure(path, t, frames, &entries, hop, &title)?;
    Ok(())
}

/// Writes `activeness.png` (Figure 6) and `guide_loss.png` (Figure 7) for one or more runs
/// into `out`, one line per run, from their `metrics.jsonl`.
///
/// # Errors
/// Unreadable metrics or plotting errors.
pub fn training_figures(runs: &[(String, PathBuf)], out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let mut active = Vec::new();
    let mut guide = Vec::new();
    for (name, dir) in runs {
        let history = read_metrics(&dir.join("metrics.jsonl"))?;
        active.push((
            name.clone(),
            history
                .iter()
                .map(|m| (m.epoch as f64, m.train_activeness))
                .collect(),
        ));
        guide.push((
            name.clone(),
            history
                .iter()
                .map(|m| (m.epoch as f64, m.train_guide_loss))
                .collect(),
        ));
    }
    let a = out.join("activeness.png");
    let g = out.join("guide_loss.png");
    line_chart(
        &a,
        "DiffRes learning activeness (Figure 6)",
        "epoch",
        "activeness",
        &active,
    )?;
    line_chart(&g, "Guide loss (Figure 7)", "epoch", "guide loss", &guide)?;
    Ok(vec![a, g])
}

/// Reads `metrics.jsonl`.
///
/// # Errors
/// I/O or JSON errors naming the file.
pub fn read_metrics(path: &Path) -> Result<Vec<EpochMetrics>> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|source| crate::TrainError::Json {
                path: path.to_path_buf(),
                source,
            })
        })
        .collect()
}
