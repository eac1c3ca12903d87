//! The paper's Table 1 on any dataset: front ends × reductions × seeds, resumable.

use std::path::{Path, PathBuf};

use diffres::FrontEndKind;
use diffres_report::{experiment_plot, load_results, ExperimentTable};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::grid::{run_grid, seed_dir, GridRun};
use crate::reporter::SharedReporter;
use crate::run::write_atomic;

/// A grid of runs.
#[derive(Clone, Debug)]
pub struct ExperimentSpec {
    /// Options shared by every run (front end, reduction and seed are overridden).
    pub base: TrainConfig,
    /// Front ends to compare (identity is added once per seed as the 100-FPS baseline).
    pub frontends: Vec<FrontEndKind>,
    /// Fractions of frames removed.
    pub reductions: Vec<f64>,
    /// Number of seeds: `base.seed, base.seed + 1, ...`.
    pub seeds: usize,
    /// Output folder.
    pub out: PathBuf,
}

/// One cell of the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Front end.
    pub frontend: FrontEndKind,
    /// Reduction (0 for the baseline).
    pub reduction: f64,
    /// Seed.
    pub seed: u64,
    /// Run folder.
    pub dir: PathBuf,
}

impl ExperimentSpec {
    /// Every run of the grid, baseline first, in a stable order.
    ///
    /// # Errors
    /// No front end, no reduction, no seed, or a reduction out of range.
    pub fn cells(&self) -> Result<Vec<Cell>> {
        if self.frontends.is_empty() || self.seeds == 0 {
            return Err(TrainError::Config(
                "an experiment needs at least one front end and one seed".into(),
            ));
        }
        let reduced: Vec<FrontEndKind> = self
            .frontends
            .iter()
            .copied()
            .filter(|k| *k != FrontEndKind::Identity)
            .collect();
        if !reduced.is_empty() && self.reductions.is_empty() {
            return Err(TrainError::Config("--reductions is empty".into()));
        }
        for &r in &self.reductions {
            if !(r > 0.0 && r < 1.0) {
                return Err(TrainError::Config(format!(
                    "--reductions: {r} is out of range (0, 1)"
                )));
            }
        }
        let mut cells = Vec::new();
        for s in 0..self.seeds {
            let seed = self.base.seed + s as u64;
            cells.push(Cell {
                frontend: FrontEndKind::Identity,
                reduction: 0.0,
                seed,
                dir: seed_dir(&self.out.join("identity"), seed),
            });
            for &reduction in &self.reductions {
                for &frontend in &reduced {
                    cells.push(Cell {
                        frontend,
                        reduction,
                        seed,
                        dir: seed_dir(
                            &self.out.join(format!("{}-{}", frontend.name(), reduction)),
                            seed,
                        ),
                    });
                }
            }
        }
        Ok(cells)
    }

    /// The training options of a cell.
    pub fn config(&self, cell: &Cell) -> TrainConfig {
        let base = if cell.frontend == FrontEndKind::DiffRes {
            self.base.clone()
        } else {
            self.base.without_ablations()
        };
        TrainConfig {
            frontend: cell.frontend,
            reduction: if cell.frontend == FrontEndKind::Identity {
                self.base.reduction
            } else {
                cell.reduction
            },
            seed: cell.seed,
            ..base
        }
    }
}

/// ESC-50 five-fold cross-validation of a grid: the whole grid once per test fold, in
/// `out/fold-K/` (each with its own table), then `out/table.*` over every fold and seed (each
/// cell's mean ± std is over folds × seeds, as the paper reports ESC-50).
///
/// # Errors
/// A dataset that is not ESC-50, the first failing run, or report errors.
pub fn run_cross_validated(
    spec: &ExperimentSpec,
    cache: Option<&Path>,
    reporter: &SharedReporter,
) -> Result<ExperimentTable> {
    let format = match spec.base.format {
        diffres_data::Format::Auto => diffres_data::detect_format(&spec.base.data)?,
        f => f,
    };
    if format != diffres_data::Format::Esc50 {
        return Err(TrainError::Config(format!(
            "--cv needs an ESC-50 dataset (meta/esc50.csv), but {} is {format}",
            spec.base.data.display()
        )));
    }
    for fold in diffres_data::esc50_folds(&spec.base.data)? {
        reporter.info(&format!("fold {fold}"));
        let fold_spec = ExperimentSpec {
            base: TrainConfig {
                fold: Some(fold),
                ..spec.base.clone()
            },
            out: spec.out.join(format!("fold-{fold}")),
            ..spec.clone()
        };
        run_experiment(&fold_spec, cache, reporter)?;
    }
    write_table(&spec.out)
}

/// Runs (or finishes) every cell, then writes `table.md`, `table.csv` and `table.png`.
///
/// A cell with `results.json` is skipped; one with a `state.json` is resumed.
///
/// # Errors
/// The first failing run, or report errors.
pub fn run_experiment(
    spec: &ExperimentSpec,
    cache: Option<&Path>,
    reporter: &SharedReporter,
) -> Result<ExperimentTable> {
    let runs: Vec<GridRun> = spec
        .cells()?
        .iter()
        .map(|cell| GridRun {
            dir: cell.dir.clone(),
            config: spec.config(cell),
            label: format!(
                "{} reduction {} seed {}",
                cell.frontend, cell.reduction, cell.seed
            ),
        })
        .collect();
    run_grid(&runs, cache, reporter)?;
    write_table(&spec.out)
}

/// Builds the table from every `results.json` under `dir` and writes `table.md`, `table.csv`
/// and `table.png` there.
///
/// # Errors
/// Malformed results or I/O errors.
pub fn write_table(dir: &Path) -> Result<ExperimentTable> {
    let results = load_results(dir)?;
    let table = ExperimentTable::from_results(&results);
    write_atomic(&dir.join("table.md"), table.to_markdown().as_bytes())?;
    write_atomic(&dir.join("table.csv"), table.to_csv().as_bytes())?;
    experiment_plot(&dir.join("table.png"), &table)?;
    Ok(table)
}
