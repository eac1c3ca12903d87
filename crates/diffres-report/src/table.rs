//! Experiment tables in the layout of Table 1 of the paper.
//!
//! Every training run writes a `results.json`; [`crate::load_results`] collects them from a
//! folder tree and [`ExperimentTable::from_results`] aggregates them over seeds:
//!
//! * the baseline (front end `identity`, no reduction) on top, as mean ± std;
//! * one row per frame reduction `delta` (shown as nominal output FPS and as % of frames
//!   kept), sorted by increasing FPS like the paper. The nominal rate is frames kept per second
//!   at the hop, `(1 - delta) * 1000 / hop_ms` (25 FPS, where a 1-s clip of 101 frames measures
//!   24.75; see [`crate::fps`]); the CSV has both;
//! * one column per front end, in the order ChangeHopSize, AvgPool, AvgMaxPool,
//!   ConvAvgPool, (any other), DiffRes;
//! * cells: mean ± sample std (n - 1; 0 for a single seed) over seeds, in % with one
//!   decimal; the best mean of each row in **bold**, and `†` where the cell is at least
//!   the baseline mean at the displayed precision (the paper's "better or comparable").
//!
//! Metrics are assumed to be fractions (0.913 is shown as 91.3).

use crate::results::RunResults;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Canonical column order of the known front ends (normalised keys).
const FRONTEND_ORDER: &[(&str, &str)] = &[
    ("changehopsize", "ChangeHopSize"),
    ("avgpool", "AvgPool"),
    ("avgmaxpool", "AvgMaxPool"),
    ("convavgpool", "ConvAvgPool"),
    ("diffres", "DiffRes"),
];

/// Normalises a front-end name: lower case without `_`, `-` and spaces
/// (`"Avg_Pool"` -> `"avgpool"`).
pub fn frontend_key(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Display name of a front end (`"avgpool"` -> `"AvgPool"`); unknown names unchanged.
pub fn frontend_display_name(name: &str) -> String {
    let key = frontend_key(name);
    FRONTEND_ORDER
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, d)| d.to_string())
        .unwrap_or_else(|| name.to_string())
}

fn is_baseline(key: &str) -> bool {
    key == "identity"
}

/// Sort rank of a front-end key: known ones in canonical order, unknown ones before
/// DiffRes (which always comes last, as "Proposed" in the paper).
fn column_rank(key: &str) -> (usize, String) {
    match FRONTEND_ORDER.iter().position(|(k, _)| *k == key) {
        Some(i) if key == "diffres" => (i + 1, String::new()),
        Some(i) => (i, String::new()),
        None => (FRONTEND_ORDER.len() - 1, key.to_string()),
    }
}

/// Mean, sample standard deviation and count of one cell (in the units of
/// `test_metric`, i.e. fractions).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct CellStats {
    /// Mean over seeds.
    pub mean: f64,
    /// Sample standard deviation (n - 1); 0 for a single seed.
    pub std: f64,
    /// Number of runs (seeds).
    pub n: usize,
}

impl CellStats {
    /// Statistics of the finite values; `None` when there is none.
    pub fn from_values(values: &[f64]) -> Option<Self> {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(Self { mean, std, n })
    }

    /// Mean in % rounded to one decimal, as displayed.
    fn shown_mean(&self) -> f64 {
        (self.mean * 1000.0).round() / 10.0
    }

    /// `"91.3 ± 0.4"`.
    pub fn format_percent(&self) -> String {
        format!("{:.1} ± {:.1}", self.mean * 100.0, self.std * 100.0)
    }
}

/// One row of the table: one frame reduction.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TableRow {
    /// Fraction of frames removed (delta).
    pub reduction: f64,
    /// Nominal output frames per second (mean of [`RunResults::resolved_nominal_fps`] over the
    /// runs of the row): what the Markdown and the plot show.
    pub nominal_fps: f64,
    /// Measured output frames per second (mean over the runs of the row).
    pub fps: f64,
    /// One cell per column of [`ExperimentTable::columns`]; `None` where no run exists.
    pub cells: Vec<Option<CellStats>>,
}

impl TableRow {
    /// Percentage of input frames kept: `100 * (1 - reduction)`.
    pub fn frames_kept_percent(&self) -> f64 {
        100.0 * (1.0 - self.reduction)
    }
}

/// Table 1 of the paper, built from per-run results.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ExperimentTable {
    /// Metric name ("accuracy", "mAP"; joined with "/" if runs disagree).
    pub metric: String,
    /// The identity (no reduction) baseline over seeds, if any run has one.
    pub baseline: Option<CellStats>,
    /// Nominal FPS of the baseline runs (mean).
    #[serde(default)]
    pub baseline_nominal_fps: Option<f64>,
    /// Measured FPS of the baseline runs (mean).
    pub baseline_fps: Option<f64>,
    /// Front-end keys (normalised, e.g. "avgpool") of the columns, in display order.
    pub columns: Vec<String>,
    /// Rows by increasing FPS (decreasing reduction).
    pub rows: Vec<TableRow>,
}

/// Key grouping reductions that differ only by float noise.
fn reduction_key(r: f64) -> i64 {
    (r * 1e6).round() as i64
}

fn fmt_number(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    if (x - x.round()).abs() < 1e-6 {
        format!("{}", x.round() as i64)
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

impl ExperimentTable {
    /// Aggregates runs over seeds. Runs with a non-finite metric are ignored; runs of
    /// the same front end, reduction and seed all count (no de-duplication).
    pub fn from_results(results: &[RunResults]) -> Self {
        let mut metrics: Vec<String> = Vec::new();
        let mut baseline_vals = Vec::new();
        let mut baseline_fps = Vec::new();
        let mut baseline_nominal = Vec::new();
        // reduction key -> (reductions, nominal fps, measured fps, frontend -> values)
        type RowAcc = (Vec<f64>, Vec<f64>, Vec<f64>, BTreeMap<String, Vec<f64>>);
        let mut rows: BTreeMap<i64, RowAcc> = BTreeMap::new();
        let mut columns: Vec<String> = Vec::new();
        for r in results {
            if !metrics.contains(&r.metric) {
                metrics.push(r.metric.clone());
            }
            let key = frontend_key(&r.frontend);
            let nominal = r.resolved_nominal_fps();
            if is_baseline(&key) {
                baseline_vals.push(r.test_metric.unwrap_or(f64::NAN));
                if r.fps.is_finite() {
                    baseline_fps.push(r.fps);
                }
                if nominal.is_finite() {
                    baseline_nominal.push(nominal);
                }
                continue;
            }
            if !r.test_metric.is_some_and(f64::is_finite) || !r.reduction.is_finite() {
                continue;
            }
            if !columns.contains(&key) {
                columns.push(key.clone());
            }
            let acc = rows.entry(reduction_key(r.reduction)).or_default();
            acc.0.push(r.reduction);
            if nominal.is_finite() {
                acc.1.push(nominal);
            }
            if r.fps.is_finite() {
                acc.2.push(r.fps);
            }
            acc.3
                .entry(key)
                .or_default()
                .push(r.test_metric.unwrap_or(f64::NAN));
        }
        columns.sort_by_key(|c| column_rank(c));
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let mut rows: Vec<TableRow> = rows
            .into_values()
            .map(|(reds, nominal, fps, cells)| TableRow {
                reduction: mean(&reds).unwrap_or(f64::NAN),
                nominal_fps: mean(&nominal).unwrap_or(f64::NAN),
                fps: mean(&fps).unwrap_or(f64::NAN),
                cells: columns
                    .iter()
                    .map(|c| cells.get(c).and_then(|v| CellStats::from_values(v)))
                    .collect(),
            })
            .collect();
        // Increasing FPS = decreasing reduction.
        rows.sort_by(|a, b| b.reduction.total_cmp(&a.reduction));
        ExperimentTable {
            metric: if metrics.is_empty() {
                "metric".into()
            } else {
                metrics.join("/")
            },
            baseline: CellStats::from_values(&baseline_vals),
            baseline_nominal_fps: mean(&baseline_nominal),
            baseline_fps: mean(&baseline_fps),
            columns,
            rows,
        }
    }

    /// The cell of a front end (any spelling, e.g. "AvgPool") at a reduction.
    pub fn cell(&self, reduction: f64, frontend: &str) -> Option<&CellStats> {
        let col = self
            .columns
            .iter()
            .position(|c| *c == frontend_key(frontend))?;
        self.rows
            .iter()
            .find(|r| reduction_key(r.reduction) == reduction_key(reduction))
            .and_then(|r| r.cells[col].as_ref())
    }

    /// Display names of the columns ("ChangeHopSize", ..., "DiffRes").
    pub fn column_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|c| frontend_display_name(c))
            .collect()
    }

    /// Whether a cell is the best of its row (ties all count).
    pub fn is_best(&self, row: usize, col: usize) -> bool {
        let Some(r) = self.rows.get(row) else {
            return false;
        };
        let Some(Some(c)) = r.cells.get(col) else {
            return false;
        };
        let best = r
            .cells
            .iter()
            .flatten()
            .map(|c| c.mean)
            .fold(f64::NEG_INFINITY, f64::max);
        c.mean >= best
    }

    /// Whether a cell reaches the baseline (`†`): its mean is at least the baseline mean
    /// at the displayed precision (0.1 %). False without a baseline.
    pub fn matches_baseline(&self, cell: &CellStats) -> bool {
        match &self.baseline {
            Some(b) => cell.shown_mean() >= b.shown_mean(),
            None => false,
        }
    }

    /// The largest number of seeds of any cell (baseline included).
    fn max_n(&self) -> usize {
        self.all_cells().map(|c| c.n).max().unwrap_or(0)
    }

    fn all_cells(&self) -> impl Iterator<Item = &CellStats> {
        self.baseline
            .iter()
            .chain(self.rows.iter().flat_map(|r| r.cells.iter().flatten()))
    }

    fn seeds_differ(&self) -> bool {
        let max = self.max_n();
        self.all_cells().any(|c| c.n != max)
    }

    /// Renders one cell: `**91.3 ± 0.4**†`, with ` (n=2)` when the seed counts differ.
    fn render_cell(&self, c: &CellStats, best: bool, show_n: bool) -> String {
        let mut s = c.format_percent();
        if best {
            s = format!("**{s}**");
        }
        if self.matches_baseline(c) {
            s.push('†');
        }
        if show_n && c.n != self.max_n() {
            let _ = write!(s, " (n={})", c.n);
        }
        s
    }

    /// The table as Markdown, in the paper's layout.
    ///
    /// ```text
    /// Baseline (identity, 100 FPS): 91.3 ± 0.4 (accuracy, %, n=3)
    ///
    /// | FPS | Frames kept | ChangeHopSize (%) | AvgPool (%) | DiffRes (%) |
    /// |---:|---:|---:|---:|---:|
    /// | 25 | 25% | 85.0 ± 0.5 | 86.1 ± 0.2 | **90.1 ± 0.3** |
    /// ```
    pub fn to_markdown(&self) -> String {
        let show_n = self.seeds_differ();
        let mut s = String::new();
        match &self.baseline {
            Some(b) => {
                let fps = self
                    .baseline_nominal_fps
                    .map(|f| format!(", {} FPS", fmt_number(f)))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "Baseline (identity{fps}): {} ({}, %, n={})",
                    b.format_percent(),
                    self.metric,
                    b.n
                );
            }
            None => {
                let _ = writeln!(s, "Baseline (identity): no run ({}, %)", self.metric);
            }
        }
        s.push('\n');
        s.push_str("| FPS | Frames kept |");
        for name in self.column_names() {
            let _ = write!(s, " {name} (%) |");
        }
        s.push_str("\n|---:|---:|");
        for _ in &self.columns {
            s.push_str("---:|");
        }
        s.push('\n');
        for (i, row) in self.rows.iter().enumerate() {
            let _ = write!(
                s,
                "| {} | {}% |",
                fmt_number(row.nominal_fps),
                fmt_number(row.frames_kept_percent())
            );
            for (j, cell) in row.cells.iter().enumerate() {
                match cell {
                    Some(c) => {
                        let _ = write!(s, " {} |", self.render_cell(c, self.is_best(i, j), show_n));
                    }
                    None => s.push_str(" – |"),
                }
            }
            s.push('\n');
        }
        s.push_str(
            "\nMean ± sample std over seeds. Bold: best in the row. \
             †: at least the baseline mean. FPS: nominal, frames kept per second at the hop \
             (the measured rates are in the CSV).\n",
        );
        s
    }

    /// Machine-readable CSV: `reduction,fps_nominal,fps,frontend,mean,std,n`, one line per
    /// cell (baseline first, as frontend `identity`), values as fractions (not %); `fps` is the
    /// exact measured rate, `fps_nominal` the one the Markdown shows.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("reduction,fps_nominal,fps,frontend,mean,std,n\n");
        let num = |x: f64| {
            if x.is_finite() {
                format!("{x}")
            } else {
                String::new()
            }
        };
        if let Some(b) = &self.baseline {
            let _ = writeln!(
                s,
                "0,{},{},identity,{},{},{}",
                self.baseline_nominal_fps.map(num).unwrap_or_default(),
                self.baseline_fps.map(num).unwrap_or_default(),
                num(b.mean),
                num(b.std),
                b.n
            );
        }
        for row in &self.rows {
            for (col, cell) in self.columns.iter().zip(&row.cells) {
                if let Some(c) = cell {
                    let _ = writeln!(
                        s,
                        "{},{},{},{},{},{},{}",
                        num(row.reduction),
                        num(row.nominal_fps),
                        num(row.fps),
                        col,
                        num(c.mean),
                        num(c.std),
                        c.n
                    );
                }
            }
        }
        s
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
