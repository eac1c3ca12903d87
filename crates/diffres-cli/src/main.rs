//! `diffres`: audio classification with a learned temporal resolution.
//!
//! Run `diffres --help` and `diffres <command> --help`.

#![forbid(unsafe_code)]

mod args;
mod train_cmd;

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use diffres::FrontEndKind;
use diffres_train::demo::{run_demo, DemoOptions};
use diffres_train::experiment::{run_cross_validated, run_experiment, ExperimentSpec};
use diffres_train::inference::{
    evaluate_run, load_run, load_run_on, predict_paths, PredictOptions,
};
use diffres_train::reporter::Console;
use diffres_train::visualize::Span;
use diffres_train::{train, TrainOptions};

use args::{Cli, Command, FrontEndOpts};
use train_cmd::{cross_validate, explicit_ids, print_results, resumed_config};

fn run(cli: Cli, matches: &ArgMatches) -> Result<()> {
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n as usize)
            .build_global()
            .context("--threads: cannot set up the thread pool")?;
    }
    let mut command = cli.command;
    // --recipe leaves the options given on the command line alone.
    match &mut command {
        Command::Train(a) => {
            a.opts.explicit = explicit_ids("train", subcommand_matches(matches, "train"))
        }
        Command::Experiment(a) => {
            a.opts.explicit = explicit_ids("experiment", subcommand_matches(matches, "experiment"))
        }
        _ => {}
    }
    match command {
        Command::Demo(a) => {
            let opts = DemoOptions {
                out: a.out,
                quick: a.quick,
                seed: a.seed,
                epochs: a.epochs,
                clips_per_class: a.clips_per_class,
                progress: !a.quiet,
                device: a.device,
            };
            let report = run_demo(&opts)?;
            println!("{}", report.table.to_markdown());
            println!(
                "wall time {:.0} s; report: {}",
                report.wall_time_s,
                report.report.display()
            );
        }
        Command::Train(a) if a.cv => cross_validate(&a)?,
        Command::Train(a) => {
            let config = if a.resume && a.opts.data.is_none() {
                resumed_config(&a, subcommand_matches(matches, "train"))?
            } else {
                a.opts.config(&a.frontend)?
            };
            let opts = TrainOptions {
                resume: a.resume,
                cache_dir: a.opts.cache(),
                reporter: Console::new(!a.opts.quiet).shared(),
                ..TrainOptions::new(a.out)
            };
            let results = train(&config, &opts)?;
            print_results(&results);
            println!("run folder: {}", opts.out.display());
        }
        Command::Eval(a) => {
            let run = load_run_on(&a.run, a.device)?;
            let cache = Some(diffres_train::data::default_cache_dir());
            let report = evaluate_run(
                &run,
                a.data.as_deref(),
                cache.as_deref(),
                &Console::new(!a.quiet),
            )?;
            eprintln!(
                "{} split of {}: {} {:.2}% on {} clips (written to {})",
                report.split,
                report.data.display(),
                report.metric,
                100.0 * report.value,
                report.clips,
                run.dir.root.join("eval.json").display()
            );
            if a.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
        }
        Command::Predict(a) => {
            let run = load_run_on(&a.run, a.device)?;
            let opts = PredictOptions {
                top_k: a.top_k as usize,
                threshold: a.threshold,
                window_hop_s: a.window_hop,
            };
            let (predictions, failures) = predict_paths(&run, &a.files, &opts)?;
            for warning in predictions.iter().flat_map(|p| &p.warnings) {
                eprintln!("warning: {warning}");
            }
            if a.json {
                println!("{}", serde_json::to_string_pretty(&predictions)?);
            } else {
                for p in &predictions {
                    let labels: Vec<String> = p
                        .labels
                        .iter()
                        .map(|l| format!("{} {:.1}%", l.label, 100.0 * l.score))
                        .collect();
                    let windows = match p.windows.len() {
                        1 => String::new(),
                        n => format!(" ({n} windows over {:.1} s)", p.duration_s),
                    };
                    println!("{}: {}{windows}", p.file.display(), labels.join(", "));
                }
            }
            if predictions.is_empty() && failures.len() == 1 {
                // One file, one line.
                bail!("{}", failures[0].error);
            }
            for f in &failures {
                eprintln!("error: {}", f.error);
            }
            if !failures.is_empty() {
                bail!(
                    "{} of {} files could not be predicted",
                    failures.len(),
                    failures.len() + predictions.len()
                );
            }
        }
        Command::Visualize(a) => {
            if a.run.is_none() {
                if a.compare.is_empty() {
                    bail!("visualize needs --run RUN (figures of a run) or --compare A B");
                }
                if !a.files.is_empty() || a.eval.is_some() {
                    bail!("visualize: audio files and --eval need --run RUN");
                }
            }
            let mut written = Vec::new();
            let mut notes = Vec::new();
            if let Some(run_dir) = &a.run {
                let run = load_run_on(run_dir, a.device)?;
                let span = Span {
                    start_s: a.start,
                    end_s: a.end,
                };
                written.extend(diffres_train::visualize::visualize_files(
                    &run,
                    &a.files,
                    span,
                    &a.out,
                    &Console::quiet(),
                )?);
                written.extend(diffres_train::visualize::training_figures(
                    &[(run.info.config.frontend.to_string(), run_dir.clone())],
                    &a.out,
                )?);
                written.extend(diffres_train::visualize::filterbank_figure(&run, &a.out)?);
                let confusion = diffres_train::analysis_figures::confusion_figures(
                    run_dir,
                    &run.info.classes,
                    a.eval.as_deref(),
                    &a.out,
                )?;
                written.extend(confusion.written);
                notes.extend(confusion.notes);
            }
            if let [first, second] = &a.compare[..] {
                let c = diffres_train::analysis_figures::compare_runs(first, second, &a.out)?;
                let ch = &c.changes;
                let gains = ch.rows.iter().filter(|r| r.change > 0.0).count();
                let median = ch
                    .median_change()
                    .map_or("none".into(), |m| format!("{:+.2} points", 100.0 * m));
                let mut line = format!(
                    "per-class {} from {} to {}: {gains} of {} classes gain, median change {median}",
                    c.metric.display_name(),
                    c.label_a,
                    c.label_b,
                    ch.rows.len()
                );
                if ch.left_out > 0 {
                    line.push_str(&format!(
                        "; {} classes without a value in both left out",
                        ch.left_out
                    ));
                }
                notes.push(line);
                written.push(c.figure);
                written.push(c.csv);
            }
            for n in notes {
                eprintln!("note: {n}");
            }
            for p in written {
                println!("{}", p.display());
            }
        }
        Command::Experiment(a) => {
            // Front end and reduction come from the grid; these are placeholders.
            let base = a.opts.config(&FrontEndOpts {
                frontend: FrontEndKind::DiffRes,
                reduction: 0.5,
            })?;
            let frontends = a
                .frontends
                .split(',')
                .map(|s| s.parse::<FrontEndKind>())
                .collect::<Result<Vec<_>, _>>()?;
            let reductions = a
                .reductions
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse::<f64>()
                        .with_context(|| format!("--reductions: '{s}' is not a number"))
                })
                .collect::<Result<Vec<_>>>()?;
            if let Some(list) = &a.filterbanks {
                if a.ablations || a.cv || a.hops_ms.is_some() {
                    bail!(
                        "--filterbanks runs Table 3 alone: leave out --ablations, --cv and --hops-ms"
                    );
                }
                let filterbanks = list
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.parse::<diffres_train::filterbank::FilterbankKind>())
                    .collect::<Result<Vec<_>, _>>()?;
                let spec = diffres_train::table3::FilterbankSpec {
                    base,
                    filterbanks,
                    diffres_hop_ms: (a.diffres_hop_ms > 0.0).then_some(a.diffres_hop_ms),
                    seeds: a.seeds,
                    out: a.out.clone(),
                };
                let reporter = Console::new(!a.opts.quiet).shared();
                let cache = a.opts.cache();
                let table =
                    diffres_train::table3::run_filterbanks(&spec, cache.as_deref(), &reporter)?;
                println!("{table}");
                println!("written: {}", a.out.join("table3.md").display());
                return Ok(());
            }
            if let Some(hops) = &a.hops_ms {
                if a.ablations || a.cv {
                    bail!("--hops-ms runs Table 2 alone: leave out --ablations and --cv");
                }
                let hops_ms = hops
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse::<f32>()
                            .with_context(|| format!("--hops-ms: '{s}' is not a number"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let spec = diffres_train::hops::HopSpec {
                    base,
                    hops_ms,
                    fps: a.fps,
                    seeds: a.seeds,
                    out: a.out.clone(),
                };
                let reporter = Console::new(!a.opts.quiet).shared();
                let cache = a.opts.cache();
                let table = diffres_train::hops::run_hops(&spec, cache.as_deref(), &reporter)?;
                println!("{table}");
                println!("written: {}", a.out.join("table2.md").display());
                return Ok(());
            }
            if a.ablations {
                if a.cv {
                    bail!("--ablations runs one dataset split: leave out --cv (or give --fold K)");
                }
                let reduction = match reductions[..] {
                    _ if a.reductions == args::DEFAULT_REDUCTIONS => {
                        diffres_train::ablation::ABLATION_REDUCTION
                    }
                    [r] => r,
                    _ => bail!(
                        "--ablations takes one --reductions value, not {}",
                        a.reductions
                    ),
                };
                let spec = diffres_train::ablation::AblationSpec {
                    base: diffres_train::TrainConfig { reduction, ..base },
                    seeds: a.seeds,
                    out: a.out.clone(),
                };
                spec.base.validate()?;
                let reporter = Console::new(!a.opts.quiet).shared();
                let cache = a.opts.cache();
                let table =
                    diffres_train::ablation::run_ablations(&spec, cache.as_deref(), &reporter)?;
                println!("{table}");
                println!("written: {}", a.out.join("ablations.md").display());
                return Ok(());
            }
            let spec = ExperimentSpec {
                base,
                frontends,
                reductions,
                seeds: a.seeds,
                out: a.out.clone(),
            };
            let reporter = Console::new(!a.opts.quiet).shared();
            let cache = a.opts.cache();
            let table = if a.cv {
                run_cross_validated(&spec, cache.as_deref(), &reporter)?
            } else {
                run_experiment(&spec, cache.as_deref(), &reporter)?
            };
            println!("{}", table.to_markdown());
            println!("written: {}", a.out.join("table.md").display());
        }
        Command::Synth(a) => {
            let snr: Vec<f32> = a
                .snr_db
                .split(',')
                .map(|v| {
                    v.trim()
                        .parse::<f32>()
                        .with_context(|| format!("--snr-db '{}': expected LOW,HIGH", a.snr_db))
                })
                .collect::<Result<_>>()?;
            if snr.len() != 2 {
                bail!("--snr-db '{}': expected LOW,HIGH", a.snr_db);
            }
            let cfg = diffres_data::synth::SynthConfig {
                snr_db: (snr[0], snr[1]),
                clips_per_class: a.clips_per_class,
                seconds: a.seconds,
                seed: a.seed,
                ..Default::default()
            };
            let manifest = diffres_data::synth::write_dataset(&a.out, &cfg)?;
            println!("{}", manifest.display());
        }
        Command::Export(a) => {
            let run = load_run(&a.run)?;
            let exported = diffres_train::export::export_run(&run, &a.out)?;
            for note in &exported.notes {
                eprintln!("note: {note}");
            }
            let parts: Vec<&str> = [exported.classifier.as_deref(), exported.frontend.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            println!(
                "{}: {} tensors ({})",
                exported.out.display(),
                exported.tensors,
                parts.join(" + ")
            );
        }
        Command::Completions(a) => {
            clap_complete::generate(
                a.shell,
                &mut Cli::command(),
                "diffres",
                &mut std::io::stdout(),
            );
        }
    }
    Ok(())
}

/// The matches of a subcommand that was parsed.
fn subcommand_matches<'a>(matches: &'a ArgMatches, name: &str) -> &'a ArgMatches {
    matches
        .subcommand_matches(name)
        .expect("the subcommand was parsed")
}

fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) if e.use_stderr() => {
            // One line, like every other error (clap adds a usage hint below its message).
            let text = e.to_string();
            eprintln!(
                "{}",
                text.lines().next().unwrap_or("error: invalid arguments")
            );
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // A decoder panic on a crafted file is caught and reported as that file's error; its
    // default panic message would only repeat it, less clearly.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info
            .location()
            .is_some_and(|l| l.file().contains("symphonia"))
        {
            default_hook(info);
        }
    }));
    // Training reallocates the same large buffers every step: keep them (see its docs).
    diffres::keep_freed_memory();
    match run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes (each error type prints its cause only as
            // its source, so nothing repeats).
            let causes: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", causes.join(": "));
            ExitCode::FAILURE
        }
    }
}
