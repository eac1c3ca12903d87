//! The paper's Table 3 on any dataset: the fixed mel spectrogram against the learnable
//! filterbanks (TD-fbank, SincNet, LEAF) and Mel+DiffRes, every column at the same frame rate
//! (the paper: 100 FPS).
//!
//! The mel and learned-filterbank columns run at the base hop (10 ms: 100 FPS) with the
//! identity temporal front end. The paper does not say how its Mel+DiffRes reaches 100 FPS;
//! DiffRes keeps 100 FPS only by merging frames of a finer spectrogram, as in its Table 2, so
//! the Mel+DiffRes column takes a finer hop `h` (`--diffres-hop-ms`, 6 ms by default: Table 2's
//! first finer hop) and removes `1 - h / base hop` of its frames (40% at 6 ms). Its
//! "Mel+DiffRes (Best)" column is Table 2's best hop per dataset: run `--hops-ms` for it.
//! `--frames` counts frames of the base hop, so every column sees the same seconds of audio.

use std::path::{Path, PathBuf};

use diffres::FrontEndKind;
use diffres_report::{bar_chart, Bar};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::filterbank::FilterbankKind;
use crate::grid::{dataset_name, metric_name, percent, run_grid, seed_dir, ColumnRuns, GridRun};
use crate::reporter::SharedReporter;
use crate::run::write_atomic;

/// The Mel+DiffRes column's hop by default (Table 2's first hop below 10 ms).
pub const DEFAULT_DIFFRES_HOP_MS: f32 = 6.0;

/// A Table 3 grid.
#[derive(Clone, Debug)]
pub struct FilterbankSpec {
    /// Options shared by every run (filterbank, front end, reduction, hop and seed are set
    /// per column).
    pub base: TrainConfig,
    /// Filterbanks, in column order, each with the identity front end at `base.hop_ms`.
    pub filterbanks: Vec<FilterbankKind>,
    /// The Mel+DiffRes column's hop (`None`: no such column).
    pub diffres_hop_ms: Option<f32>,
    /// Seeds: `base.seed, base.seed + 1, ...`.
    pub seeds: usize,
    /// Output folder: `out/<column>/seed-S/` per run, `table3.md`, `.csv`, `.png`.
    pub out: PathBuf,
}

/// One column of Table 3.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterbankColumn {
    /// The paper's name for it (`Mel`, `TD-fbanks`, `SincNet`, `LEAF`, `Mel+DiffRes`).
    pub label: String,
    /// Its filterbank.
    pub filterbank: FilterbankKind,
    /// Its temporal front end: identity, or DiffRes for Mel+DiffRes.
    pub frontend: FrontEndKind,
    /// Its hop in milliseconds.
    pub hop_ms: f32,
    /// Fraction of frames removed.
    pub reduction: f64,
    /// Folder of its runs (one `seed-S` per seed).
    pub dir: PathBuf,
}

impl FilterbankSpec {
    /// The columns: the filterbanks in order, then Mel+DiffRes.
    ///
    /// # Errors
    /// No column or seed, or a Mel+DiffRes hop that is not finer than the base hop.
    pub fn columns(&self) -> Result<Vec<FilterbankColumn>> {
        if (self.filterbanks.is_empty() && self.diffres_hop_ms.is_none()) || self.seeds == 0 {
            return Err(TrainError::Config(
                "--filterbanks needs at least one filterbank, and --seeds at least 1".into(),
            ));
        }
        let hop = self.base.hop_ms;
        let mut columns: Vec<FilterbankColumn> = self
            .filterbanks
            .iter()
            .map(|&fb| FilterbankColumn {
                label: fb.label().into(),
                filterbank: fb,
                frontend: FrontEndKind::Identity,
                hop_ms: hop,
                reduction: 0.0,
                dir: self.out.join(fb.name()),
            })
            .collect();
        if let Some(h) = self.diffres_hop_ms {
            if !(h > 0.0 && h < hop) {
                return Err(TrainError::Config(format!(
                    "--diffres-hop-ms {h}: Mel+DiffRes keeps the frame rate of the {hop} ms hop by \
                     merging a finer spectrogram, so its hop must be below {hop} ms"
                )));
            }
            // Round away float noise (1 - 6 / 10 = 0.3999999999999999).
            let reduction = ((1.0 - h as f64 / hop as f64) * 1e9).round() / 1e9;
            columns.push(FilterbankColumn {
                label: "Mel+DiffRes".into(),
                filterbank: FilterbankKind::Mel,
                frontend: FrontEndKind::DiffRes,
                hop_ms: h,
                reduction,
                dir: self.out.join(format!("mel+diffres-hop-{h}ms")),
            });
        }
        Ok(columns)
    }

    /// The training options of a column's run with `seed`.
    pub fn config(&self, column: &FilterbankColumn, seed: u64) -> TrainConfig {
        let base = if column.frontend == FrontEndKind::DiffRes {
            self.base.clone()
        } else {
            self.base.without_ablations()
        };
        // `--frames` counts frames of the base hop: the same seconds of audio at a finer one.
        let frames = base
            .frames
            .map(|f| (f as f64 * self.base.hop_ms as f64 / column.hop_ms as f64).round() as usize);
        TrainConfig {
            filterbank: column.filterbank,
            frontend: column.frontend,
            reduction: column.reduction,
            hop_ms: column.hop_ms,
            frames,
            seed,
            ..base
        }
    }
}

/// Runs (or finishes) every run, then writes `table3.md`, `table3.csv` and `table3.png`;
/// returns the Markdown table.
///
/// # Errors
/// Invalid columns, the first failing run, or report errors.
pub fn run_filterbanks(
    spec: &FilterbankSpec,
    cache: Option<&Path>,
    reporter: &SharedReporter,
) -> Result<String> {
    let columns = spec.columns()?;
    let mut runs = Vec::new();
    for column in &columns {
        for s in 0..spec.seeds as u64 {
            let seed = spec.base.seed + s;
            let config = spec.config(column, seed);
            config.validate()?;
            runs.push(GridRun {
                dir: seed_dir(&column.dir, seed),
                config,
                label: format!("{} ({} ms hop), seed {seed}", column.label, column.hop_ms),
            });
        }
    }
    run_grid(&runs, cache, reporter)?;
    write_filterbank_table(spec, &columns)
}

/// A parameter count as the paper's Table 3 writes it: `256`, `51 k`, `82 k`.
pub fn params_text(params: usize) -> String {
    if params >= 1000 {
        format!("{} k", (params as f64 / 1000.0).round())
    } else {
        params.to_string()
    }
}

/// Writes `table3.md`, `table3.csv` and `table3.png` from the finished runs of `columns`.
///
/// # Errors
/// Malformed results, plotting or I/O errors.
pub fn write_filterbank_table(
    spec: &FilterbankSpec,
    columns: &[FilterbankColumn],
) -> Result<String> {
    let cells = columns
        .iter()
        .map(|c| ColumnRuns::load(&c.dir, spec.base.seed, spec.seeds))
        .collect::<Result<Vec<_>>>()?;
    let metric = metric_name(&cells);
    let dataset = dataset_name(&spec.base.data);
    let mut header = String::from("| |");
    let mut rule = String::from("|---|");
    let mut params_row = String::from("| Parameters |");
    let mut value_row = format!("| {dataset} ({metric}, %) |");
    let mut fps_row = String::from("| FPS (hop, frames removed) |");
    let mut csv = format!(
        "column,filterbank,frontend,hop_ms,reduction,fps,frontend_params,{metric}_mean,{metric}_std,runs\n"
    );
    let mut bars = Vec::new();
    for (column, runs) in columns.iter().zip(&cells) {
        let (results, stats) = (&runs.results, runs.stats);
        header += &format!(" {} |", column.label);
        rule += "---:|";
        let params = results.first().map(|r| r.frontend_params);
        params_row += &format!(" {} |", params.map_or("-".into(), params_text));
        let fps = diffres_report::nominal_fps(column.reduction, column.hop_ms as f64);
        fps_row += &format!(
            " {fps:.0} ({} ms, {}) |",
            column.hop_ms,
            percent(column.reduction)
        );
        value_row += &format!(" {} |", runs.cell());
        csv += &format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            column.label,
            column.filterbank,
            column.frontend,
            column.hop_ms,
            column.reduction,
            fps,
            params.map_or(String::new(), |p| p.to_string()),
            stats.map_or(f64::NAN, |s| s.mean),
            stats.map_or(f64::NAN, |s| s.std),
            results.len()
        );
        bars.push(Bar {
            label: column.label.clone(),
            value: stats.map_or(f64::NAN, |s| 100.0 * s.mean),
            std: stats.filter(|_| results.len() > 1).map(|s| 100.0 * s.std),
        });
    }
    let md = format!("{header}\n{rule}\n{params_row}\n{value_row}\n{fps_row}\n");
    write_atomic(&spec.out.join("table3.md"), md.as_bytes())?;
    write_atomic(&spec.out.join("table3.csv"), csv.as_bytes())?;
    bar_chart(
        &spec.out.join("table3.png"),
        &format!("Table 3 on {dataset}: test {metric} by front end"),
        &format!("{metric} (%)"),
        &bars,
    )?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_keep_the_frame_rate_and_name_their_runs() {
        let spec = FilterbankSpec {
            base: TrainConfig::default(),
            filterbanks: FilterbankKind::ALL.to_vec(),
            diffres_hop_ms: Some(DEFAULT_DIFFRES_HOP_MS),
            seeds: 2,
            out: PathBuf::from("t3"),
        };
        let cols = spec.columns().unwrap();
        let got: Vec<(&str, FrontEndKind, f32, f64)> = cols
            .iter()
            .map(|c| (c.label.as_str(), c.frontend, c.hop_ms, c.reduction))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Mel", FrontEndKind::Identity, 10.0, 0.0),
                ("TD-fbanks", FrontEndKind::Identity, 10.0, 0.0),
                ("SincNet", FrontEndKind::Identity, 10.0, 0.0),
                ("LEAF", FrontEndKind::Identity, 10.0, 0.0),
                ("Mel+DiffRes", FrontEndKind::DiffRes, 6.0, 0.4),
            ]
        );
        let spec = FilterbankSpec {
            base: TrainConfig {
                frames: Some(100),
                ..spec.base
            },
            ..spec
        };
        for c in &cols {
            let cfg = spec.config(c, 3);
            // One second of audio in every column.
            let seconds = cfg.frames.unwrap() as f64 * cfg.hop_ms as f64 / 1000.0;
            assert!((seconds - 1.0).abs() < 0.01, "{}: {seconds} s", c.label);
            cfg.validate().unwrap();
            assert_eq!(cfg.seed, 3);
            let fps = diffres_report::nominal_fps(cfg.reduction, cfg.hop_ms as f64);
            assert!((fps - 100.0).abs() < 1e-6, "{}: {fps}", c.label);
        }
        assert_eq!(cols[4].dir, PathBuf::from("t3/mel+diffres-hop-6ms"));
        assert_eq!(params_text(51_328), "51 k");
        assert_eq!(params_text(256), "256");
        let coarse = FilterbankSpec {
            diffres_hop_ms: Some(20.0),
            ..spec
        };
        assert!(coarse
            .columns()
            .unwrap_err()
            .to_string()
            .contains("--diffres-hop-ms 20"));
    }
}
