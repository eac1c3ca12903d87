//! The paper's Table 2 on any dataset: finer hops at a fixed frame rate. At a hop of `h` ms
//! and `F` output frames per second, DiffRes removes `delta = 1 - F h / 1000` of the frames
//! (100 FPS: 0% at 10 ms, 40% at 6 ms, 70% at 3 ms, 90% at 1 ms), so the classifier's cost is
//! the same in every column; where `delta` is 0 the run is the identity baseline. Frames per
//! clip follow the clip length at each hop (see [`crate::data::max_auto_frames`]).

use std::path::{Path, PathBuf};

use diffres::FrontEndKind;
use diffres_report::line_chart;

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::grid::{dataset_name, metric_name, percent, run_grid, seed_dir, ColumnRuns, GridRun};
use crate::reporter::SharedReporter;
use crate::run::write_atomic;

/// The paper's Table 2 frame rate.
pub const TABLE2_FPS: f64 = 100.0;

/// A Table 2 grid.
#[derive(Clone, Debug)]
pub struct HopSpec {
    /// Options shared by every run (hop, front end, reduction and seed are set per cell).
    pub base: TrainConfig,
    /// Hops in milliseconds, in column order.
    pub hops_ms: Vec<f32>,
    /// Output frames per second kept at every hop.
    pub fps: f64,
    /// Seeds: `base.seed, base.seed + 1, ...`.
    pub seeds: usize,
    /// Output folder: `out/hop-Hms/seed-S/` per run, `table2.md`, `.csv`, `.png`.
    pub out: PathBuf,
}

/// One column of Table 2.
#[derive(Clone, Debug, PartialEq)]
pub struct HopColumn {
    /// Hop in milliseconds.
    pub hop_ms: f32,
    /// Fraction of frames removed (0: the identity baseline).
    pub reduction: f64,
    /// DiffRes, or the identity where nothing is removed.
    pub frontend: FrontEndKind,
    /// Folder of the column's runs (one `seed-S` per seed).
    pub dir: PathBuf,
}

impl HopSpec {
    /// The columns, in the order of `hops_ms`.
    ///
    /// # Errors
    /// No hop or seed, a hop out of 1..=40 ms, or a frame rate the hop cannot give
    /// (`fps > 1000 / hop`).
    pub fn columns(&self) -> Result<Vec<HopColumn>> {
        if self.hops_ms.is_empty() || self.seeds == 0 {
            return Err(TrainError::Config(
                "--hops-ms needs at least one hop, and --seeds at least 1".into(),
            ));
        }
        if !(self.fps > 0.0 && self.fps.is_finite()) {
            return Err(TrainError::Config(format!(
                "--fps {} must be positive",
                self.fps
            )));
        }
        self.hops_ms
            .iter()
            .map(|&hop| {
                let native = 1000.0 / hop as f64;
                let reduction = 1.0 - self.fps / native;
                if reduction < -1e-9 {
                    return Err(TrainError::Config(format!(
                        "--fps {} is above the {native:.1} frames per second of a {hop} ms hop",
                        self.fps
                    )));
                }
                // Round away float noise (1 - 100 * 6 / 1000 = 0.3999999999999999).
                let reduction = (reduction * 1e9).round() / 1e9;
                let frontend = if reduction == 0.0 {
                    FrontEndKind::Identity
                } else {
                    FrontEndKind::DiffRes
                };
                Ok(HopColumn {
                    hop_ms: hop,
                    reduction,
                    frontend,
                    dir: self.out.join(format!("hop-{hop}ms")),
                })
            })
            .collect()
    }

    /// The training options of a column's run with `seed`.
    pub fn config(&self, column: &HopColumn, seed: u64) -> TrainConfig {
        let base = if column.frontend == FrontEndKind::DiffRes {
            self.base.clone()
        } else {
            self.base.without_ablations()
        };
        TrainConfig {
            hop_ms: column.hop_ms,
            frontend: column.frontend,
            reduction: column.reduction,
            seed,
            ..base
        }
    }
}

/// Runs (or finishes) every run, then writes `table2.md`, `table2.csv` and `table2.png`;
/// returns the Markdown table.
///
/// # Errors
/// Invalid columns, the first failing run, or report errors.
pub fn run_hops(spec: &HopSpec, cache: Option<&Path>, reporter: &SharedReporter) -> Result<String> {
    let columns = spec.columns()?;
    let mut runs = Vec::new();
    for column in &columns {
        for s in 0..spec.seeds as u64 {
            let seed = spec.base.seed + s;
            runs.push(GridRun {
                dir: seed_dir(&column.dir, seed),
                config: spec.config(column, seed),
                label: format!(
                    "hop {} ms, {} at reduction {}, seed {seed}",
                    column.hop_ms, column.frontend, column.reduction
                ),
            });
        }
    }
    run_grid(&runs, cache, reporter)?;
    write_hop_table(spec, &columns)
}

/// Writes `table2.md`, `table2.csv` and `table2.png` from the finished runs of `columns`.
///
/// # Errors
/// Malformed results, plotting or I/O errors.
pub fn write_hop_table(spec: &HopSpec, columns: &[HopColumn]) -> Result<String> {
    let cells = columns
        .iter()
        .map(|c| ColumnRuns::load(&c.dir, spec.base.seed, spec.seeds))
        .collect::<Result<Vec<_>>>()?;
    let metric = metric_name(&cells);
    let dataset = dataset_name(&spec.base.data);
    let fps = if spec.fps.fract() == 0.0 {
        format!("{:.0}", spec.fps)
    } else {
        format!("{}", spec.fps)
    };
    let mut md = String::from("| Hop size |");
    let mut rule = String::from("|---|");
    let mut fps_row = String::from("| FPS (Dimension reduction rate) |");
    let mut frames_row = String::from("| Input frames per clip |");
    let mut value_row = format!("| {dataset} ({metric}, %) |");
    let mut csv = format!(
        "hop_ms,fps,reduction,frontend,frames_in,frames_out,{metric}_mean,{metric}_std,runs\n"
    );
    for (column, runs) in columns.iter().zip(&cells) {
        let (results, stats) = (&runs.results, runs.stats);
        md += &format!(" {} ms |", column.hop_ms);
        rule += "---:|";
        fps_row += &format!(" {fps} ({}) |", percent(column.reduction));
        let frames_in = results.first().and_then(|r| r.frames_in);
        frames_row += &format!(" {} |", frames_in.map_or("-".into(), |f| f.to_string()));
        value_row += &format!(" {} |", runs.cell());
        csv += &format!(
            "{},{},{},{},{},{},{},{},{}\n",
            column.hop_ms,
            spec.fps,
            column.reduction,
            column.frontend,
            frames_in.map_or(String::new(), |f| f.to_string()),
            results
                .first()
                .and_then(|r| r.frames_out)
                .map_or(String::new(), |f| f.to_string()),
            stats.map_or(f64::NAN, |s| s.mean),
            stats.map_or(f64::NAN, |s| s.std),
            results.len()
        );
    }
    md = format!("{md}\n{rule}\n{fps_row}\n{value_row}\n{frames_row}\n");
    write_atomic(&spec.out.join("table2.md"), md.as_bytes())?;
    write_atomic(&spec.out.join("table2.csv"), csv.as_bytes())?;
    let points: Vec<(f64, f64)> = columns
        .iter()
        .zip(&cells)
        .filter_map(|(c, runs)| runs.stats.map(|s| (c.hop_ms as f64, 100.0 * s.mean)))
        .collect();
    line_chart(
        &spec.out.join("table2.png"),
        &format!("Table 2: test {metric} at {fps} FPS"),
        "hop (ms)",
        &format!("{metric} (%)"),
        &[(dataset, points)],
    )?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_keep_the_frame_rate() {
        let spec = HopSpec {
            base: TrainConfig::default(),
            hops_ms: vec![10.0, 6.0, 3.0, 1.0],
            fps: 100.0,
            seeds: 1,
            out: PathBuf::from("t2"),
        };
        let cols = spec.columns().unwrap();
        let got: Vec<(f64, FrontEndKind)> =
            cols.iter().map(|c| (c.reduction, c.frontend)).collect();
        assert_eq!(
            got,
            vec![
                (0.0, FrontEndKind::Identity),
                (0.4, FrontEndKind::DiffRes),
                (0.7, FrontEndKind::DiffRes),
                (0.9, FrontEndKind::DiffRes),
            ]
        );
        assert_eq!(cols[1].dir, PathBuf::from("t2/hop-6ms"));
        let cfg = spec.config(&cols[3], 4);
        assert_eq!((cfg.hop_ms, cfg.reduction, cfg.seed), (1.0, 0.9, 4));
        cfg.validate().unwrap();
        spec.config(&cols[0], 1).validate().unwrap();
        let too_fast = HopSpec { fps: 200.0, ..spec };
        assert!(too_fast
            .columns()
            .unwrap_err()
            .to_string()
            .contains("--fps 200"));
    }
}
