//! `diffres`: audio classification with a learned temporal resolution.
//!
//! Run `diffres --help` and `diffres <command> --help`.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use diffres::{FrontEndKind, ScoreNormalization};
use diffres_audio::{FeatureKind, Normalization};
use diffres_data::Format;
use diffres_models::{ClassifierHead, ClassifierKind};
use diffres_train::config::{Balance, DEFAULT_SEED};
use diffres_train::demo::{run_demo, DemoOptions};
use diffres_train::experiment::{run_experiment, ExperimentSpec};
use diffres_train::inference::{evaluate_run, load_run, predict_paths, PredictOptions};
use diffres_train::model::ComputeDevice;
use diffres_train::predict::DEFAULT_TOP_K;
use diffres_train::reporter::Console;
use diffres_train::visualize::Span;
use diffres_train::{train, LrSchedule, RunDir, TrainConfig, TrainOptions};

/// Audio classification with DiffRes, a learned temporal resolution (Liu et al., ICLR 2023).
///
/// DiffRes sits between a log-mel spectrogram and a classifier: it scores every frame, keeps
/// the important ones and merges the rest, so the classifier sees 25-75% fewer frames.
/// Start with `diffres demo`; train on your own data with `diffres train --data DIR`.
#[derive(Parser, Debug)]
#[command(name = "diffres", version, about, long_about)]
struct Cli {
    /// Threads for every pool (feature extraction, the layer's kernels, the tensor backend);
    /// default: one per core.
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show DiffRes working in minutes: synthetic sound events, 100-FPS baseline vs DiffRes,
    /// AvgPool and ChangeHopSize at 25 and 50 FPS; writes report.md with a table and figures.
    Demo(DemoArgs),
    /// Train a front end + classifier on a labelled audio dataset.
    Train(TrainArgs),
    /// Evaluate a trained run on its test split (or on another dataset with the same labels).
    Eval(EvalArgs),
    /// Predict the labels of audio files with a trained run.
    Predict(PredictArgs),
    /// Draw the paper's Figure 4 for audio files (score, input, output, resolution encoding)
    /// and Figures 6-7 (activeness, guide loss) of a run.
    Visualize(VisualizeArgs),
    /// Run the paper's Table 1 grid: front ends x reductions x seeds (resumable).
    Experiment(ExperimentArgs),
    /// Write the synthetic sound-event dataset (WAV + manifest.csv).
    Synth(SynthArgs),
    /// Write a trained run's model as PyTorch-named safetensors: the classifier under PSLA's
    /// EffNetAttention names, the DiffRes layer under pydiffres' DiffRes names.
    Export(ExportArgs),
    /// Print a shell completion script (e.g. `diffres completions bash > ~/.local/share/bash-completion/completions/diffres`).
    Completions(CompletionsArgs),
}

#[derive(Args, Debug)]
struct CompletionsArgs {
    /// Shell: bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Output folder (data, runs, figures, report.md).
    #[arg(long, default_value = "runs/demo")]
    out: PathBuf,
    /// Tiny version (4 clips per class, 1 epoch, 25 FPS only): checks the pipeline in seconds.
    #[arg(long)]
    quick: bool,
    /// Seed of the data and the training runs.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Epochs per run (default 20; 1 with --quick).
    #[arg(long)]
    epochs: Option<usize>,
    /// Synthetic clips per class (default 120; 4 with --quick).
    #[arg(long)]
    clips_per_class: Option<usize>,
    /// No progress bars (warnings are still shown).
    #[arg(long)]
    quiet: bool,
}

/// The front end and its reduction (for `train`; `experiment` takes lists instead).
#[derive(Args, Debug, Clone)]
struct FrontEndOpts {
    /// Front end: diffres, avgpool, avgmaxpool, convavgpool, changehopsize, identity.
    #[arg(long, default_value_t = defaults().frontend)]
    frontend: FrontEndKind,
    /// Fraction of frames removed (delta), in (0, 1): 0.75 keeps 25%.
    #[arg(long, default_value_t = defaults().reduction)]
    reduction: f64,
}

/// Dataset, classifier and optimisation options.
#[derive(Args, Debug, Clone)]
struct TrainOpts {
    /// Dataset: a folder (one sub-folder per class, ESC-50, Speech Commands or FSDD layout) or a CSV manifest.
    /// With --resume it may be left out: the run's config.json has it.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Dataset layout: auto, folders, csv, esc50, speech-commands, fsdd.
    #[arg(long, default_value_t = defaults().format)]
    format: Format,
    /// Validation fraction (for layouts without an official validation split).
    #[arg(long, default_value_t = defaults().val_fraction)]
    val_fraction: f64,
    /// Test fraction (for layouts without an official test split).
    #[arg(long, default_value_t = defaults().test_fraction)]
    test_fraction: f64,
    /// ESC-50 test fold (1-5).
    #[arg(long)]
    fold: Option<u32>,
    /// Spectrogram hop in milliseconds (1-40).
    #[arg(long, default_value_t = defaults().hop_ms)]
    hop_ms: f32,
    /// Mel bins.
    #[arg(long, default_value_t = defaults().mels)]
    mels: usize,
    /// Input features: log-mel (librosa-style) or kaldi (Kaldi filterbanks, as PSLA, AST and
    /// the authors' DiffRes recipes compute them).
    #[arg(long, default_value_t = defaults().features)]
    features: FeatureKind,
    /// Normalise the features as PSLA does, (x - MEAN) / (2 STD): MEAN,STD of the dataset,
    /// e.g. -4.2677393,4.5689974 (PSLA's AudioSet values).
    #[arg(long, allow_hyphen_values = true)]
    normalize: Option<Normalization>,
    /// DiffRes score normalisation: exact (scores sum to t, every output frame gets weight 1)
    /// or reference (the authors' rule, for comparison).
    #[arg(long, default_value_t = defaults().score_norm)]
    score_norm: ScoreNormalization,
    /// DiffRes importance-network dilation growth: 1 = the paper's 41-frame receptive field,
    /// 2 widens it to 125 frames (useful at 1 ms hops).
    #[arg(long, default_value_t = defaults().dilation)]
    dilation: usize,
    /// DiffRes guide loss: frames below this fraction of the clip's loudest frame's energy
    /// count as empty (the paper's epsilon).
    #[arg(long, default_value_t = defaults().empty_eps)]
    empty_eps: f64,
    /// Frames per clip (pad or crop); default: the longest training clip (at most 3000).
    #[arg(long)]
    frames: Option<usize>,
    /// Give the front end each clip's true length (padding is ignored, not treated as signal).
    #[arg(long)]
    variable_length: bool,
    /// Classifier: cnn, efficientnet-b0, efficientnet-b2.
    #[arg(long, default_value_t = defaults().model)]
    model: ClassifierKind,
    /// Width of the compact CNN's first block.
    #[arg(long, default_value_t = defaults().cnn_width)]
    cnn_width: usize,
    /// EfficientNet's head: logits, or psla (PSLA's model exactly: sigmoid branches and static
    /// padding, probabilities out, trained with BCE on them).
    #[arg(long, default_value_t = defaults().head)]
    head: ClassifierHead,
    /// Initialise from a checkpoint (repeatable; the kind is read from its names): a run folder
    /// or one of its .bpk files, a PyTorch .pth of PSLA's EffNetAttention or efficientnet_pytorch
    /// (the classifier) or of pydiffres' DiffRes (the front end), or safetensors.
    #[arg(long)]
    init: Vec<PathBuf>,
    /// Epochs.
    #[arg(long, default_value_t = defaults().epochs)]
    epochs: usize,
    /// Batch size.
    #[arg(long, default_value_t = defaults().batch_size)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = defaults().lr)]
    lr: f64,
    /// Step schedule START,GAMMA,EVERY (e.g. 25,0.9,1: from epoch 25, x0.9 every epoch).
    #[arg(long)]
    lr_schedule: Option<LrSchedule>,
    /// Seed of everything random.
    #[arg(long, default_value_t = defaults().seed)]
    seed: u64,
    /// SpecAugment (frequency masks up to 37.5%, time masks up to 50%).
    #[arg(long)]
    specaugment: bool,
    /// Mixup with probability 0.5.
    #[arg(long)]
    mixup: bool,
    /// Weight of DiffRes's guide loss.
    #[arg(long, default_value_t = defaults().guide_weight)]
    guide_weight: f64,
    /// Class re-balancing sampler: on, off, or auto (on for multi-label data).
    #[arg(long, default_value_t = Balance::from(defaults().balance))]
    balance: Balance,
    /// Fail on the first unreadable audio file instead of skipping it.
    #[arg(long)]
    strict: bool,
    /// Device: cpu, or wgpu / vulkan in a build with that cargo feature.
    #[arg(long, default_value_t = defaults().device)]
    device: ComputeDevice,
    /// Feature cache folder (default ~/.cache/diffres); "none" disables it.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// No progress bars (warnings are still shown).
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct TrainArgs {
    #[command(flatten)]
    frontend: FrontEndOpts,
    #[command(flatten)]
    opts: TrainOpts,
    /// Run folder (config.json, metrics.jsonl, results.json, checkpoints, curves).
    #[arg(long)]
    out: PathBuf,
    /// Continue a killed run in --out from its last finished epoch. Alone (without --data) it
    /// continues the run as its config.json says; --epochs may raise the epoch count.
    #[arg(long)]
    resume: bool,
    /// ESC-50: 5-fold cross-validation, one run per test fold in --out/fold-K, and the mean and
    /// standard deviation in --out/cv.json.
    #[arg(long)]
    cv: bool,
}

#[derive(Args, Debug)]
struct EvalArgs {
    /// Run folder written by `diffres train`.
    #[arg(long)]
    run: PathBuf,
    /// Evaluate on this dataset instead of the run's own test split.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Print the metrics as JSON on stdout (the summary line goes to stderr either way).
    #[arg(long)]
    json: bool,
    /// No progress bars (warnings are still shown).
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct PredictArgs {
    /// Run folder written by `diffres train`.
    #[arg(long)]
    run: PathBuf,
    /// Audio files (WAV, FLAC, OGG, MP3) or folders of them (searched recursively). Files of
    /// any length: a window of the run's training length slides over each whole file.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Labels per file (and per window), most probable first.
    #[arg(long, default_value_t = DEFAULT_TOP_K as u64, value_parser = clap::value_parser!(u64).range(1..))]
    top_k: u64,
    /// Report every label scoring at least this probability instead of the top k (for
    /// multi-label runs).
    #[arg(long)]
    threshold: Option<f32>,
    /// Seconds between window starts (default: half the run's window).
    #[arg(long)]
    window_hop: Option<f64>,
    /// Print JSON objects ({file, duration_s, labels: [{label, score}], windows: [{start_s,
    /// end_s, labels}]}) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct VisualizeArgs {
    /// Run folder written by `diffres train`.
    #[arg(long)]
    run: PathBuf,
    /// Audio files to draw (each whole, or the part --start/--end chooses).
    files: Vec<PathBuf>,
    /// Start of the part to draw, in seconds.
    #[arg(long, default_value_t = 0.0)]
    start: f64,
    /// End of the part to draw, in seconds (default: the end of the file).
    #[arg(long)]
    end: Option<f64>,
    /// Output folder for the PNGs.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct ExperimentArgs {
    #[command(flatten)]
    opts: TrainOpts,
    /// Front ends to compare, comma-separated (the identity baseline is always included).
    #[arg(long, default_value = "diffres,avgpool,changehopsize,convavgpool")]
    frontends: String,
    /// Reductions, comma-separated.
    #[arg(long, default_value = "0.25,0.5,0.75")]
    reductions: String,
    /// Seeds per cell (seed, seed+1, ...).
    #[arg(long, default_value_t = 3)]
    seeds: usize,
    /// Output folder (one run folder per cell, table.md, table.csv, table.png).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct ExportArgs {
    /// Run folder written by `diffres train` (its best checkpoint is exported).
    #[arg(long)]
    run: PathBuf,
    /// Output file (safetensors).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct SynthArgs {
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Clips per class.
    #[arg(long, default_value_t = 100)]
    clips_per_class: usize,
    /// Clip length in seconds.
    #[arg(long, default_value_t = 1.0)]
    seconds: f32,
    /// Seed.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Signal-to-noise range of the events in dB, as LOW,HIGH.
    #[arg(long, default_value = "0,20")]
    snr_db: String,
}

impl TrainOpts {
    /// The training configuration for `frontend` (a `train` run, or one cell of an experiment).
    fn config(&self, frontend: &FrontEndOpts) -> Result<TrainConfig> {
        let Some(data) = &self.data else {
            bail!("--data is required (it may be left out only with --resume)");
        };
        let config = TrainConfig {
            data: data.clone(),
            score_norm: self.score_norm,
            dilation: self.dilation,
            empty_eps: self.empty_eps,
            format: self.format,
            val_fraction: self.val_fraction,
            test_fraction: self.test_fraction,
            fold: self.fold,
            frontend: frontend.frontend,
            reduction: if frontend.frontend == FrontEndKind::Identity {
                0.0
            } else {
                frontend.reduction
            },
            hop_ms: self.hop_ms,
            mels: self.mels,
            features: self.features,
            normalize: self.normalize,
            frames: self.frames,
            variable_length: self.variable_length,
            model: self.model,
            cnn_width: self.cnn_width,
            head: self.head,
            init: self.init.clone(),
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            lr_schedule: self.lr_schedule,
            seed: self.seed,
            specaugment: self.specaugment,
            mixup: self.mixup,
            guide_weight: self.guide_weight,
            balance: self.balance.into(),
            strict: self.strict,
            device: self.device,
            ..TrainConfig::default()
        };
        config.validate()?;
        if !data.exists() {
            bail!("dataset {} does not exist", data.display());
        }
        if let Some(init) = self.init.iter().find(|p| !p.exists()) {
            bail!("--init {} does not exist", init.display());
        }
        // Runs remember their dataset by an absolute path, so `eval` works from anywhere.
        let data =
            std::fs::canonicalize(data).with_context(|| format!("dataset {}", data.display()))?;
        Ok(TrainConfig { data, ..config })
    }

    fn cache(&self) -> Option<PathBuf> {
        match &self.cache_dir {
            Some(p) if p.as_os_str() == "none" => None,
            Some(p) => Some(p.clone()),
            None => Some(diffres_train::data::default_cache_dir()),
        }
    }
}

/// The single source of every training option's default.
fn defaults() -> TrainConfig {
    TrainConfig::default()
}

/// Options of `train` that `--resume` without `--data` may still set: where and how to run,
/// not what to train (`--epochs` may extend the run).
const RESUME_ADJUSTABLE: [&str; 6] = ["out", "resume", "cache_dir", "quiet", "epochs", "threads"];

/// `train --resume` without `--data`: the stored configuration, with `--epochs` if given.
fn resumed_config(a: &TrainArgs, matches: &ArgMatches) -> Result<TrainConfig> {
    let info = RunDir::new(&a.out).read_info()?;
    let cli = Cli::command();
    let train = cli
        .find_subcommand("train")
        .expect("the CLI has a train subcommand");
    // Arguments only: `ids()` also lists the argument groups of flattened structs.
    let given: Vec<String> = train
        .get_arguments()
        .map(|arg| arg.get_id().as_str())
        .filter(|id| {
            matches.value_source(id) == Some(ValueSource::CommandLine)
                && !RESUME_ADJUSTABLE.contains(id)
        })
        .map(str::to_string)
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

fn print_results(results: &diffres_train::RunResults) {
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

fn run(cli: Cli, matches: &ArgMatches) -> Result<()> {
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n as usize)
            .build_global()
            .context("--threads: cannot set up the thread pool")?;
    }
    match cli.command {
        Command::Demo(a) => {
            let opts = DemoOptions {
                out: a.out,
                quick: a.quick,
                seed: a.seed,
                epochs: a.epochs,
                clips_per_class: a.clips_per_class,
                progress: !a.quiet,
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
            let train_matches = matches
                .subcommand_matches("train")
                .expect("the train subcommand was parsed");
            let config = if a.resume && a.opts.data.is_none() {
                resumed_config(&a, train_matches)?
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
            let run = load_run(&a.run)?;
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
            let run = load_run(&a.run)?;
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
            let run = load_run(&a.run)?;
            let span = Span {
                start_s: a.start,
                end_s: a.end,
            };
            let mut written = diffres_train::visualize::visualize_files(
                &run,
                &a.files,
                span,
                &a.out,
                &Console::quiet(),
            )?;
            written.extend(diffres_train::visualize::training_figures(
                &[(run.info.config.frontend.to_string(), a.run.clone())],
                &a.out,
            )?);
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
            let spec = ExperimentSpec {
                base,
                frontends,
                reductions,
                seeds: a.seeds,
                out: a.out.clone(),
            };
            let table = run_experiment(
                &spec,
                a.opts.cache().as_deref(),
                &Console::new(!a.opts.quiet).shared(),
            )?;
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

/// `train --cv`: one run per ESC-50 fold, then the mean and standard deviation.
fn cross_validate(a: &TrainArgs) -> Result<()> {
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
