//! Running a grid of trainings (Table 1, Table 2, Table 3, Figure 8): every run in order, each
//! in its own folder, finished runs skipped and interrupted ones resumed, so a killed grid
//! started again continues where it stopped with the same numbers.

use std::path::{Path, PathBuf};

use diffres_report::CellStats;

use crate::config::TrainConfig;
use crate::error::Result;
use crate::reporter::SharedReporter;
use crate::run::{read_json, RunDir, RunResults};
use crate::trainer::{train, TrainOptions};

/// One run of a grid.
#[derive(Clone, Debug)]
pub struct GridRun {
    /// Its run folder.
    pub dir: PathBuf,
    /// What it trains.
    pub config: TrainConfig,
    /// How progress lines name it, e.g. `hop 6 ms, diffres at reduction 0.4, seed 1`.
    pub label: String,
}

/// Runs (or finishes) every run in order, with a `[i/n] label` progress line each; a run
/// with `results.json` is skipped, one with `state.json` resumed.
///
/// # Errors
/// The first failing run.
pub fn run_grid(runs: &[GridRun], cache: Option<&Path>, reporter: &SharedReporter) -> Result<()> {
    for (i, run) in runs.iter().enumerate() {
        let progress = format!("[{}/{}] {}", i + 1, runs.len(), run.label);
        if RunDir::new(&run.dir).results().is_file() {
            reporter.info(&format!("{progress} (done)"));
            continue;
        }
        reporter.info(&progress);
        let opts = TrainOptions {
            out: run.dir.clone(),
            resume: true,
            cache_dir: cache.map(Path::to_path_buf),
            reporter: reporter.clone(),
            stop_after: None,
        };
        train(&run.config, &opts)?;
        // The next run may have other shapes (another front end, hop or model): what this
        // one freed is not reused then, so give it back (with `keep_freed_memory`, as the
        // `diffres` tool sets it, nothing else would).
        diffres::release_freed_memory();
    }
    Ok(())
}

/// The folder of seed `seed`'s run under a cell's folder: `dir/seed-S`.
pub fn seed_dir(dir: &Path, seed: u64) -> PathBuf {
    dir.join(format!("seed-{seed}"))
}

/// The `results.json` of the finished runs of seeds `first_seed..first_seed + seeds` under
/// `dir` (unfinished ones are left out).
///
/// # Errors
/// A malformed `results.json`.
pub fn seed_results(dir: &Path, first_seed: u64, seeds: usize) -> Result<Vec<RunResults>> {
    let mut results = Vec::new();
    for s in 0..seeds as u64 {
        let path = RunDir::new(seed_dir(dir, first_seed + s)).results();
        if path.is_file() {
            results.push(read_json::<RunResults>(&path)?);
        }
    }
    Ok(results)
}

/// A table column's finished runs (one per seed) and the statistics of their test metric.
#[derive(Clone, Debug, Default)]
pub struct ColumnRuns {
    /// The runs' `results.json`.
    pub results: Vec<RunResults>,
    /// Mean and standard deviation of their test metric (`None`: none finished with one).
    pub stats: Option<CellStats>,
}

impl ColumnRuns {
    /// The finished runs of seeds `first_seed..first_seed + seeds` under `dir`.
    ///
    /// # Errors
    /// A malformed `results.json`.
    pub fn load(dir: &Path, first_seed: u64, seeds: usize) -> Result<Self> {
        let results = seed_results(dir, first_seed, seeds)?;
        let values: Vec<f64> = results.iter().filter_map(|r| r.test_metric).collect();
        let stats = CellStats::from_values(&values);
        Ok(Self { results, stats })
    }

    /// The cell of a Markdown table, in percent: `93.3 ± 0.4` over several seeds, `93.3` for
    /// one, `-` for none.
    pub fn cell(&self) -> String {
        match self.stats {
            Some(s) if self.results.len() > 1 => {
                format!("{:.1} ± {:.1}", 100.0 * s.mean, 100.0 * s.std)
            }
            Some(s) => format!("{:.1}", 100.0 * s.mean),
            None => "-".into(),
        }
    }
}

/// The primary metric's name of a table's runs (`accuracy`, `mAP`), `metric` without a run.
pub fn metric_name(columns: &[ColumnRuns]) -> String {
    columns
        .iter()
        .find_map(|c| c.results.first().map(|r| r.metric.clone()))
        .unwrap_or_else(|| "metric".into())
}

/// A dataset's name in a table: its folder's (or manifest's) name.
pub fn dataset_name(data: &Path) -> String {
    data.file_name()
        .map_or("dataset".into(), |n| n.to_string_lossy().into_owned())
}

/// A fraction of frames removed as a table writes it: `40%`.
pub fn percent(reduction: f64) -> String {
    format!("{}%", (reduction * 100.0).round())
}
