//! `train`'s helpers: `--resume` alone, the one-line result, ESC-50 cross-validation.

use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory};
use diffres_train::reporter::Console;
use diffres_train::{train, RunDir, TrainConfig, TrainOptions};

use crate::args::{Cli, TrainArgs};

/// Options of `train` that `--resume` without `--data` may still set: where and how to run,
/// not what to train (`--epochs` may extend the run).
const RESUME_ADJUSTABLE: [&str; 6] = ["out", "resume", "cache_dir", "quiet", "epochs", "threads"];

/// The ids of the options of subcommand `command` given on the command line (`matches` are
/// the subcommand's).
pub(crate) fn explicit_ids(command: &str, matches: &ArgMatches) -> Vec<String> {
    let cli = Cli::command();
    let Some(sub) = cli.find_subcommand(command) else {
        return Vec::new();
    };
    // Arguments only: `ids()` also lists the argument groups of flattened structs.
    sub.get_arguments()
        .map(|arg| arg.get_id().as_str())
        .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        .map(str::to_string)
        .collect()
}

/// `train --resume` without `--data`: the stored configuration, with `--epochs` if given.
pub(crate) fn resumed_config(a: &TrainArgs, matches: &ArgMatches) -> Result<TrainConfig> {
    let info = RunDir::new(&a.out).read_info()?;
    let given: Vec<String> = explicit_ids("train", matches)
        .into_iter()
        .filter(|id| !RESUME_ADJUSTABLE.contains(&id.as_str()))
        .collect();
    if !given.is_empty() {
        bail!(
            "--resume without --data continues {} as its config.json says, so it cannot change --{} \
             (give the whole command with --data to have it checked, or start a new --out)",
            a.out.display(),
            given.join(", --").replace('_', "-")
        );
    }
    let mut config = info.config;
    if matches.value_source("epochs") == Some(ValueSource::CommandLine) {
        config.epochs = a.opts.epochs;
    }
    Ok(config)
}

/// A frame rate as a reader writes it: `25`, `12.5`.
fn fps_text(fps: f64) -> String {
    let rounded = (fps * 100.0).round() / 100.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded}")
    }
}

pub(crate) fn print_results(results: &diffres_train::RunResults) {
    let test = match results.test_metric {
        Some(v) => format!("test {} {:.2}%", results.metric, 100.0 * v),
        None => "no test split".to_string(),
    };
    println!(
        "{} ({} -> {} frames, {} FPS): {test} (best validation {:.2}% at epoch {}), {:.0} s",
        results.frontend,
        results.frames_in.unwrap_or_default(),
        results.frames_out.unwrap_or_default(),
        fps_text(results.nominal_fps.unwrap_or(results.fps)),
        100.0 * results.best_val_metric,
        results.best_epoch,
        results.wall_time_s
    );
}

/// `train --cv`: one run per ESC-50 fold, then the mean and standard deviation.
pub(crate) fn cross_validate(a: &TrainArgs) -> Result<()> {
    let config = a.opts.config(&a.frontend)?;
    let format = diffres_data::detect_format(&config.data)?;
    if format != diffres_data::Format::Esc50 {
        bail!(
            "--cv needs an ESC-50 dataset (meta/esc50.csv), but {} is {format}",
            config.data.display()
        );
    }
    let folds = diffres_data::esc50_folds(&config.data)?;
    let mut scores = Vec::new();
    for fold in folds {
        let cfg = TrainConfig {
            fold: Some(fold),
            ..config.clone()
        };
        let out = a.out.join(format!("fold-{fold}"));
        let run = RunDir::new(&out);
        let opts = TrainOptions {
            resume: a.resume || run.state().is_file(),
            cache_dir: a.opts.cache(),
            reporter: Console::new(!a.opts.quiet).shared(),
            ..TrainOptions::new(out)
        };
        let results = match diffres_train::run::read_json(&run.results()) {
            Ok(done) => done,
            Err(_) => train(&cfg, &opts)?,
        };
        print!("fold {fold}: ");
        print_results(&results);
        let metric = results
            .test_metric
            .with_context(|| format!("fold {fold} has no test metric"))?;
        scores.push((fold, metric));
    }
    let values: Vec<f64> = scores.iter().map(|s| s.1).collect();
    let stats = diffres_report::CellStats::from_values(&values).context("no fold was run")?;
    let summary = serde_json::json!({ "folds": scores, "mean": stats.mean, "std": stats.std });
    diffres_train::run::write_json(&a.out.join("cv.json"), &summary)?;
    println!(
        "cross-validation: {:.2} ± {:.2} % over {} folds",
        100.0 * stats.mean,
        100.0 * stats.std,
        scores.len()
    );
    Ok(())
}
