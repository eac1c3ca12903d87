//! The paper's Figure 8 on any dataset: DiffRes as published, then without its guide loss,
//! its resolution encoding, its max aggregation and its Algorithm 1, each trained with the same
//! options and seeds; a table of the test metric and the three panels of Figure 8 (guide loss,
//! activeness and the validation metric against the training step).

use std::path::{Path, PathBuf};

use diffres::{Aggregation, FrontEndKind, WarpKind};
use diffres_report::plot::curves_grid_with_x_label;
use diffres_report::{CellStats, Panel};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::grid::{run_grid, seed_dir, GridRun};
use crate::reporter::SharedReporter;
use crate::run::{read_json, write_atomic, RunDir, RunResults, TrainState};

/// The reduction of the paper's ablation study (10 ms hop, 25 FPS).
pub const ABLATION_REDUCTION: f64 = 0.75;

/// One setup of Figure 8.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ablation {
    /// Folder name, e.g. `no-guide-loss`.
    pub name: &'static str,
    /// Legend label, as the paper's Figure 8 names the line.
    pub label: &'static str,
    /// The flags that make it, for reports.
    pub flags: &'static str,
}

/// The paper's set, DiffRes as published first.
pub const FIGURE_8: [Ablation; 5] = [
    Ablation {
        name: "diffres",
        label: "DiffRes",
        flags: "",
    },
    Ablation {
        name: "no-guide-loss",
        label: "w/o guide loss",
        flags: "--guide-weight 0",
    },
    Ablation {
        name: "no-resolution-encoding",
        label: "w/o resolution encoding",
        flags: "--no-resolution-encoding",
    },
    Ablation {
        name: "no-max",
        label: "w/o max aggregation",
        flags: "--aggregation mean",
    },
    Ablation {
        name: "no-algorithm-1",
        label: "w/o Algorithm 1",
        flags: "--warp eq5",
    },
];

impl Ablation {
    /// `base` (DiffRes with the paper's settings) with this setup applied.
    pub fn apply(&self, base: &TrainConfig) -> TrainConfig {
        let mut cfg = base.without_ablations();
        cfg.frontend = FrontEndKind::DiffRes;
        match self.name {
            "no-guide-loss" => cfg.guide_weight = 0.0,
            "no-resolution-encoding" => cfg.no_resolution_encoding = true,
            "no-max" => cfg.aggregation = Aggregation::Mean,
            "no-algorithm-1" => cfg.warp = WarpKind::Eq5,
            _ => {}
        }
        cfg
    }
}

/// The ablation grid: every setup of [`FIGURE_8`] × seeds.
#[derive(Clone, Debug)]
pub struct AblationSpec {
    /// Options shared by every run (the front end is DiffRes; ablation flags are reset, then
    /// set per setup; the seed is overridden).
    pub base: TrainConfig,
    /// Number of seeds: `base.seed, base.seed + 1, ...`.
    pub seeds: usize,
    /// Output folder: `out/NAME/seed-S/` per run, `ablations.md`, `.csv`, `.png`.
    pub out: PathBuf,
}

impl AblationSpec {
    /// Every run: `(setup, seed, folder, config)`, setup by setup.
    ///
    /// # Errors
    /// No seed.
    pub fn cells(&self) -> Result<Vec<(Ablation, u64, PathBuf, TrainConfig)>> {
        if self.seeds == 0 {
            return Err(TrainError::Config("--seeds must be at least 1".into()));
        }
        let mut cells = Vec::new();
        for ablation in FIGURE_8 {
            for s in 0..self.seeds as u64 {
                let seed = self.base.seed + s;
                let cfg = TrainConfig {
                    seed,
                    ..ablation.apply(&self.base)
                };
                let dir = seed_dir(&self.out.join(ablation.name), seed);
                cells.push((ablation, seed, dir, cfg));
            }
        }
        Ok(cells)
    }
}

/// Runs (or finishes) every run of the grid, then writes `ablations.md`, `ablations.csv` and
/// `ablations.png` (Figure 8). Finished runs are skipped, interrupted ones resumed.
///
/// # Errors
/// The first failing run, or report errors.
pub fn run_ablations(
    spec: &AblationSpec,
    cache: Option<&Path>,
    reporter: &SharedReporter,
) -> Result<String> {
    let runs: Vec<GridRun> = spec
        .cells()?
        .into_iter()
        .map(|(ablation, seed, dir, config)| GridRun {
            dir,
            config,
            label: format!("{} seed {seed}", ablation.name),
        })
        .collect();
    run_grid(&runs, cache, reporter)?;
    write_ablation_report(spec)
}

/// One setup's results over its seeds.
struct SetupRuns {
    ablation: Ablation,
    results: Vec<RunResults>,
    /// Per seed: `steps.jsonl` records and the epoch history.
    curves: Vec<(Vec<crate::steps::StepRecord>, Vec<crate::run::EpochMetrics>)>,
}

fn load_setups(spec: &AblationSpec) -> Result<Vec<SetupRuns>> {
    let mut setups = Vec::new();
    for ablation in FIGURE_8 {
        let mut runs = SetupRuns {
            ablation,
            results: Vec::new(),
            curves: Vec::new(),
        };
        for s in 0..spec.seeds as u64 {
            let dir = RunDir::new(seed_dir(&spec.out.join(ablation.name), spec.base.seed + s));
            if !dir.results().is_file() {
                continue;
            }
            runs.results.push(read_json(&dir.results())?);
            let state: TrainState = dir.read_state(crate::config::RUN_FORMAT_VERSION)?;
            runs.curves
                .push((crate::steps::read_steps(&dir.steps())?, state.history));
        }
        setups.push(runs);
    }
    Ok(setups)
}

/// The mean over seeds of a per-step series (seeds share their step numbers: same data, same
/// batch size); steps some seed lacks are left out.
fn mean_series(per_seed: &[Vec<(f64, f64)>]) -> Vec<(f64, f64)> {
    let Some(first) = per_seed.first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter_map(|&(x, _)| {
            let ys: Vec<f64> = per_seed
                .iter()
                .filter_map(|s| s.iter().find(|p| p.0 == x).map(|p| p.1))
                .collect();
            (ys.len() == per_seed.len()).then(|| (x, ys.iter().sum::<f64>() / ys.len() as f64))
        })
        .collect()
}

fn stats_text(values: &[f64], scale: f64) -> String {
    match CellStats::from_values(values) {
        Some(s) if values.len() > 1 => format!("{:.2} ± {:.2}", scale * s.mean, scale * s.std),
        Some(s) => format!("{:.2}", scale * s.mean),
        None => "-".into(),
    }
}

/// Writes the table and the figure from the finished runs under `spec.out`; returns the
/// Markdown table.
///
/// # Errors
/// Malformed run files, plotting or I/O errors.
pub fn write_ablation_report(spec: &AblationSpec) -> Result<String> {
    let setups = load_setups(spec)?;
    let metric = setups
        .iter()
        .find_map(|s| s.results.first().map(|r| r.metric.clone()))
        .unwrap_or_else(|| "metric".into());
    let mut md = format!(
        "| setup | flags | test {metric} (%) | final guide loss | final activeness | runs |\n|---|---|---:|---:|---:|---:|\n"
    );
    let mut csv = format!(
        "setup,flags,test_{metric}_mean,test_{metric}_std,final_guide_loss,final_activeness,runs\n"
    );
    let mut panels = [
        ("Guide loss", "guide loss", Vec::new()),
        ("Activeness", "activeness", Vec::new()),
        ("Validation", metric.as_str(), Vec::new()),
    ];
    for setup in &setups {
        let test: Vec<f64> = setup.results.iter().filter_map(|r| r.test_metric).collect();
        let last = |f: fn(&crate::run::EpochMetrics) -> f64| -> Vec<f64> {
            setup
                .curves
                .iter()
                .filter_map(|(_, h)| h.last().map(f))
                .collect()
        };
        let guide = last(|m| m.train_guide_loss);
        let active = last(|m| m.train_activeness);
        md += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            setup.ablation.label,
            if setup.ablation.flags.is_empty() {
                "(paper's settings)"
            } else {
                setup.ablation.flags
            },
            stats_text(&test, 100.0),
            stats_text(&guide, 1.0),
            stats_text(&active, 1.0),
            setup.results.len()
        );
        let s = CellStats::from_values(&test);
        let mean = |v: &[f64]| CellStats::from_values(v).map_or(f64::NAN, |s| s.mean);
        csv += &format!(
            "{},{},{},{},{},{},{}\n",
            setup.ablation.name,
            setup.ablation.flags,
            s.map_or(f64::NAN, |s| s.mean),
            s.map_or(f64::NAN, |s| s.std),
            mean(&guide),
            mean(&active),
            setup.results.len()
        );
        if setup.curves.is_empty() {
            continue;
        }
        let per_seed = |f: fn(&crate::steps::StepRecord) -> f64| -> Vec<Vec<(f64, f64)>> {
            setup
                .curves
                .iter()
                .map(|(steps, _)| steps.iter().map(|r| (r.step as f64, f(r))).collect())
                .collect()
        };
        let val: Vec<Vec<(f64, f64)>> = setup
            .curves
            .iter()
            .map(|(_, h)| h.iter().map(|m| (m.step as f64, m.val_metric)).collect())
            .collect();
        let label = setup.ablation.label.to_string();
        panels[0]
            .2
            .push((label.clone(), mean_series(&per_seed(|r| r.guide_loss))));
        panels[1]
            .2
            .push((label.clone(), mean_series(&per_seed(|r| r.activeness))));
        panels[2].2.push((label, mean_series(&val)));
    }
    write_atomic(&spec.out.join("ablations.md"), md.as_bytes())?;
    write_atomic(&spec.out.join("ablations.csv"), csv.as_bytes())?;
    let panels: Vec<Panel> = panels
        .into_iter()
        .map(|(title, y, series)| Panel {
            title: format!("{title} (Figure 8)"),
            y_label: y.into(),
            series,
        })
        .collect();
    curves_grid_with_x_label(&spec.out.join("ablations.png"), "training step", &panels)?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setup_changes_one_thing_from_the_papers_settings() {
        let base = TrainConfig {
            frontend: FrontEndKind::AvgPool,
            warp: WarpKind::Eq5, // a user's ablation flag is reset for the reference
            ..TrainConfig::default()
        };
        let spec = AblationSpec {
            base,
            seeds: 2,
            out: PathBuf::from("out"),
        };
        let cells = spec.cells().unwrap();
        assert_eq!(cells.len(), 10);
        let reference = &cells[0].3;
        assert_eq!(reference.frontend, FrontEndKind::DiffRes);
        assert!(reference.ablation_flags().is_empty());
        assert_eq!(reference.guide_weight, 1.0);
        assert_eq!(cells[1].1, 2, "second seed");
        assert_eq!(cells[2].2, PathBuf::from("out/no-guide-loss/seed-1"));
        let changed = |i: usize| {
            let c = &cells[i].3;
            (
                c.guide_weight,
                c.no_resolution_encoding,
                c.aggregation,
                c.warp,
            )
        };
        assert_eq!(
            changed(2),
            (0.0, false, Aggregation::MeanMax, WarpKind::Full)
        );
        assert_eq!(
            changed(4),
            (1.0, true, Aggregation::MeanMax, WarpKind::Full)
        );
        assert_eq!(changed(6), (1.0, false, Aggregation::Mean, WarpKind::Full));
        assert_eq!(
            changed(8),
            (1.0, false, Aggregation::MeanMax, WarpKind::Eq5)
        );
        for (a, _, _, cfg) in &cells {
            cfg.validate().unwrap_or_else(|e| panic!("{}: {e}", a.name));
        }
    }

    #[test]
    fn seed_means_keep_common_steps() {
        let a = vec![(10.0, 1.0), (20.0, 3.0)];
        let b = vec![(10.0, 3.0)];
        assert_eq!(mean_series(&[a.clone(), b]), vec![(10.0, 2.0)]);
        assert_eq!(mean_series(std::slice::from_ref(&a)), a);
    }
}
