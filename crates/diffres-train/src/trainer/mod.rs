//! The training loop: a short [`train`] that sets a run up and drives the epochs, with the
//! seams beside it as burn-train has them: the train step and epoch ([`step`]), the validation
//! and test passes ([`eval`]), and the checkpoint strategies ([`checkpoint`]).
//!
//! Hand-written rather than burn-train's `Learner`, for three things this paper needs that it
//! does not offer: the batch-norm refresh after each epoch ([`step::BN_REFRESH_BATCHES`]),
//! per-step seeds that make a killed run resume to the same numbers, and DiffRes's guide loss
//! and activeness as first-class statistics beside the task loss.

pub mod checkpoint;
pub mod eval;
pub mod step;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::AdamConfig;
use burn::prelude::*;
use diffres_data::Split;

use crate::batch::{epoch_order, RngStream};
use crate::config::{TrainConfig, RUN_FORMAT_VERSION};
use crate::data::{prepare, PreparedData};
use crate::error::{io_err, Result, TrainError};
use crate::model::{device, AudioModel};
use crate::reporter::{Console, SharedReporter};
use crate::run::{write_json, EpochMetrics, RunDir, RunInfo, RunResults, TrainState};
use checkpoint::{load_optimizer, save_epoch, save_model, save_optimizer, seal_legacy_file};
use step::{refresh_batch_norm, train_epoch, valid_model, StepContext};

pub use checkpoint::load_checkpoint;
pub use eval::{evaluate_probs, predict_clips, PassOptions};
pub use step::BN_REFRESH_BATCHES;

/// How to run a training (as opposed to what to train, [`TrainConfig`]).
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Run folder.
    pub out: PathBuf,
    /// Continue the run in `out` from its last finished epoch.
    pub resume: bool,
    /// Feature cache (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Where progress, notes and warnings go.
    pub reporter: SharedReporter,
    /// Stop (as if killed) after this many epochs of this invocation; for tests.
    pub stop_after: Option<usize>,
}

impl TrainOptions {
    /// A new run in `out`: no resume, no cache, a quiet console (notes and warnings only).
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            out: out.into(),
            resume: false,
            cache_dir: None,
            reporter: Console::quiet().shared(),
            stop_after: None,
        }
    }
}

/// Output frames per second of audio of a run, as measured: `frames_out` per `rows_in` rows
/// of input (24.75 for 101 input frames reduced to 25 at a 10 ms hop; a waveform's rows are
/// samples).
pub fn output_fps(cfg: &TrainConfig, rows_in: usize, frames_out: usize) -> f64 {
    frames_out as f64 / (rows_in as f64 * cfg.feature_config().row_seconds())
}

/// Nominal output frames per second: frames kept per second of audio at the hop,
/// `(1 - reduction) * 1000 / hop_ms` (25 at a 10 ms hop with reduction 0.75), the figure the
/// paper and a reader use.
pub fn nominal_fps(cfg: &TrainConfig) -> f64 {
    diffres_report::nominal_fps(effective_reduction(cfg), cfg.hop_ms as f64)
}

/// The reduction a run applies: 0 for the identity front end, whatever its option says.
fn effective_reduction(cfg: &TrainConfig) -> f64 {
    if cfg.frontend == diffres::FrontEndKind::Identity {
        0.0
    } else {
        cfg.reduction
    }
}

/// A run folder opened for writing: locked, checked against `cfg`, cleaned of temporaries.
struct OpenedRun {
    run: RunDir,
    _lock: crate::lock::RunLock,
    /// Format of the files being resumed (`None`: a new run).
    resumed_format: Option<u32>,
}

fn open_run(cfg: &TrainConfig, opts: &TrainOptions) -> Result<OpenedRun> {
    let run = RunDir::new(&opts.out);
    fs::create_dir_all(run.checkpoints()).map_err(io_err(run.checkpoints()))?;
    // Held until training returns: one writer per run folder.
    let lock = run.lock()?;
    if !opts.resume && run.config().exists() {
        return Err(TrainError::Run {
            path: run.root.clone(),
            reason: "already holds a run: pass --resume to continue it, or choose another --out"
                .into(),
        });
    }
    let mut resumed_format = None;
    if opts.resume && run.state().is_file() {
        let stored = run.read_info()?;
        check_same_run(&stored.config, cfg, &run.root)?;
        resumed_format = Some(stored.format_version);
    }
    let stale = run.remove_stale_temporaries();
    if stale > 0 {
        opts.reporter.note(&format!(
            "removed {stale} temporary file(s) left by an interrupted run in {}",
            run.root.display()
        ));
    }
    Ok(OpenedRun {
        run,
        _lock: lock,
        resumed_format,
    })
}

/// Loads the resume point into `model` and `optim`; a run of format 1 gets its checksums.
fn resume_from(
    run: &RunDir,
    format: u32,
    model: AudioModel,
    optim: burn::optim::ModuleOptimizer,
) -> Result<(AudioModel, burn::optim::ModuleOptimizer, TrainState)> {
    let legacy = format < 2;
    let state = run.read_state(format)?;
    let ckpt = run.checkpoints().join(&state.checkpoint);
    let model = load_checkpoint(model, &ckpt, legacy)?;
    let optim_path = run.checkpoints().join(&state.optimizer);
    let optim = load_optimizer(optim, &optim_path, legacy)?;
    if legacy {
        // config.json now says the current format: give the old files their checksums.
        seal_legacy_file(&run.best())?;
        save_model(&model, &ckpt)?;
        save_optimizer(&optim, &optim_path)?;
        run.write_state(&state)?;
    }
    Ok((model, optim, state))
}

/// Trains a model as configured, writing everything to `opts.out`, and returns its results.
///
/// # Errors
/// Invalid options, dataset or audio errors, a run folder that exists without `--resume`
/// (or does not fit `cfg` with it), a folder another process trains into, I/O errors,
/// divergence.
pub fn train(cfg: &TrainConfig, opts: &TrainOptions) -> Result<RunResults> {
    cfg.validate()?;
    let base = device(cfg.device)?;
    let opened = open_run(cfg, opts)?;
    let run = &opened.run;
    let reporter = opts.reporter.as_ref();

    let data = prepare(cfg, opts.cache_dir.as_deref(), reporter)?;
    // The run's options with what the data resolved (a normalisation computed from the
    // training features), as config.json records them for eval and predict.
    let resolved = TrainConfig {
        normalize: data.normalization,
        ..cfg.clone()
    };
    let cfg = &resolved;
    let classes = data.dataset.classes.len();
    let output = crate::loss::OutputKind::new(cfg.loss, cfg.head, data.dataset.multi_label)?;
    let info = RunInfo {
        format_version: RUN_FORMAT_VERSION,
        config: cfg.clone(),
        frames: data.frames,
        classes: data.dataset.classes.clone(),
        multi_label: data.dataset.multi_label,
        dataset: data.dataset.name.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    write_json(&run.config(), &info)?;

    let train_device = base.clone().autodiff();
    // Weights are drawn on the CPU and moved: a seed gives the same initial model on every
    // device (each backend's own generator draws other numbers).
    let init_device = Device::flex().autodiff();
    init_device.seed(RngStream::Init.seed(cfg.seed, 0, 0));
    let mut model =
        crate::model::fork_drawn(AudioModel::new(cfg, classes, &init_device)?, &train_device);
    if opened.resumed_format.is_none() {
        // A resumed run reads its own checkpoint below; --init starts a new one.
        model = crate::init::initialise(model, &cfg.init, reporter)?;
    }
    let mut optim = adam(cfg).init();
    let frames_out =
        crate::model::frontend_config(cfg).output_frames(cfg.frames_of_rows(data.frames))?;
    let mut state = TrainState::new();
    if let Some(format) = opened.resumed_format {
        (model, optim, state) = resume_from(run, format, model, optim)?;
    }
    let fresh_model = || AudioModel::new(cfg, classes, &train_device);
    let mut average = match state.average.as_str() {
        "" => None,
        file => Some(load_checkpoint(
            fresh_model()?,
            &run.checkpoints().join(file),
            false,
        )?),
    };

    let train_idx = data.indices(Split::Train);
    // Model selection uses the validation split only: never the test split (that would
    // select on the test data) nor the training clips (that would select nothing).
    let val_idx = data.indices(Split::Val);
    if val_idx.is_empty() {
        return Err(TrainError::Config(format!(
            "dataset {} has no readable validation clip: model selection needs one",
            cfg.data.display()
        )));
    }
    let balance = cfg.balance.unwrap_or(data.dataset.multi_label);
    reporter.info(&format!(
        "{}: {} classes, {} train / {} val clips, {} -> {} frames, front end {} + {}",
        data.dataset.name,
        classes,
        train_idx.len(),
        val_idx.len(),
        data.frames,
        frames_out,
        cfg.frontend,
        cfg.model
    ));

    // steps.jsonl holds exactly the finished epochs (a kill may have left a later one's lines).
    crate::steps::truncate_steps(&run.steps(), state.epoch)?;
    let mut global_step = state.history.last().map_or(0, |m| m.step);
    let ctx = StepContext {
        cfg,
        data: &data,
        device: &train_device,
        output,
    };
    let pass = PassOptions {
        batch_size: cfg.batch_size,
        variable_length: cfg.variable_length,
        device: &base,
        output,
    };
    for (epochs_run, epoch) in (state.epoch + 1..=cfg.epochs).enumerate() {
        if opts.stop_after.is_some_and(|n| epochs_run >= n) {
            break;
        }
        let started = Instant::now();
        // Dropout and other device randomness restart from a per-epoch seed: resumable.
        train_device.seed(RngStream::Device.seed(cfg.seed, epoch, 0));
        let order = epoch_order(&data, &train_idx, cfg.seed, epoch, balance);
        let last = state
            .history
            .last()
            .map(|m| (m.val.primary().0, m.val_metric));
        let (stats, per_step);
        (model, stats, per_step) = train_epoch(
            model,
            &mut optim,
            &order,
            epoch,
            global_step,
            ctx,
            reporter,
            last,
        )?;
        let records = crate::steps::epoch_records(&per_step, epoch, global_step + 1, cfg.log_every);
        global_step += per_step.len();
        refresh_batch_norm(&model, &data, &order, cfg, &train_device)?;
        if let Some(from) = cfg.average_from.filter(|&from| epoch >= from) {
            average = Some(crate::averaging::add_to_average(
                average.as_ref(),
                &model,
                epoch + 1 - from,
                fresh_model,
            )?);
        }
        let train_time = started.elapsed().as_secs_f64();

        let (val, val_loss) = eval::evaluate_clips(&valid_model(&model), &data, &val_idx, pass)?;
        let (_, val_metric) = val.primary();
        let n = train_idx.len() as f64;
        let metrics = EpochMetrics {
            epoch,
            step: global_step,
            lr: cfg.lr_at(epoch),
            train_loss: stats.loss / n,
            train_task_loss: stats.task / n,
            train_guide_loss: stats.guide / n,
            train_activeness: stats.activeness / n,
            val_loss,
            val_metric,
            val,
            time_s: started.elapsed().as_secs_f64(),
            clips_per_s: n / train_time.max(1e-9),
        };
        reporter.info(&format!(
            "epoch {epoch:>3}: loss {:.4} (guide {:.4}, activeness {:.4}) | val {} {:.4} | {:.1} clips/s",
            metrics.train_loss,
            metrics.train_guide_loss,
            metrics.train_activeness,
            metrics.val.primary().0,
            val_metric,
            metrics.clips_per_s
        ));
        state.elapsed_s += metrics.time_s;
        state.history.push(metrics);
        crate::steps::append_steps(&run.steps(), &records)?;
        // The average exists from the first averaged epoch on (resumed from state.json).
        save_epoch(
            run,
            &model,
            &optim,
            &mut state,
            epoch,
            val_metric,
            average.as_ref(),
        )?;
        crate::curves::write_curves(&run.root, &state.history)?;
        let steps = crate::steps::read_steps(&run.steps())?;
        crate::steps::write_step_curves(&run.root, &steps, &state.history)?;
    }

    if state.epoch < cfg.epochs {
        // Stopped early on request: the run stays resumable, and has no results yet.
        return Err(TrainError::Run {
            path: run.root.clone(),
            reason: format!(
                "stopped after epoch {} of {} (resume with --resume)",
                state.epoch, cfg.epochs
            ),
        });
    }
    if let Some(average) = &average {
        // The average's own batch-norm statistics, from the last epoch's first batches.
        let order = epoch_order(&data, &train_idx, cfg.seed, cfg.epochs, balance);
        refresh_batch_norm(average, &data, &order, cfg, &train_device)?;
        save_model(average, &run.averaged())?;
    }
    let results = test_results(cfg, &data, &state, run, pass, frames_out, reporter)?;
    write_json(&run.results(), &results)?;
    Ok(results)
}

/// The final test metrics with the best checkpoint; none without a test split (never the
/// metrics of clips the model was trained or selected on).
fn test_results(
    cfg: &TrainConfig,
    data: &PreparedData,
    state: &TrainState,
    run: &RunDir,
    pass: PassOptions<'_>,
    frames_out: usize,
    reporter: &dyn crate::reporter::Reporter,
) -> Result<RunResults> {
    let classes = data.dataset.classes.len();
    let load =
        |path: &Path| load_checkpoint(AudioModel::new(cfg, classes, pass.device)?, path, false);
    let best = load(&run.best())?;
    let test_idx = data.indices(Split::Test);
    if test_idx.is_empty() {
        reporter.warn(&format!(
            "{} has no test split: results.json reports no test metrics",
            cfg.data.display()
        ));
    }
    let test_of = |model: &AudioModel| -> Result<Option<diffres_report::Evaluation>> {
        if test_idx.is_empty() {
            return Ok(None);
        }
        Ok(Some(eval::evaluate_clips(model, data, &test_idx, pass)?.0))
    };
    let best_test = test_of(&best)?;
    let averaged = match cfg.average_from {
        Some(from) => {
            let model = load(&run.averaged())?;
            let (val, _) = eval::evaluate_clips(&model, data, &data.indices(Split::Val), pass)?;
            Some((from, val.primary().1, test_of(&model)?, model))
        }
        None => None,
    };
    let (evaluated, test) = match &averaged {
        Some((_, _, test, model)) => (model, test.clone()),
        None => (&best, best_test.clone()),
    };
    let metric = state
        .history
        .last()
        .map_or("accuracy", |m| m.val.primary().0);
    Ok(RunResults {
        format_version: RUN_FORMAT_VERSION,
        frontend: cfg.frontend.name().to_string(),
        reduction: effective_reduction(cfg),
        seed: cfg.seed,
        fps: output_fps(cfg, data.frames, frames_out),
        nominal_fps: Some(nominal_fps(cfg)),
        hop_ms: Some(cfg.hop_ms as f64),
        metric: metric.to_string(),
        test_metric: test.as_ref().map(|t| t.primary().1),
        test,
        evaluated_on: if test_idx.is_empty() { "none" } else { "test" }.to_string(),
        best_val_metric: state.best_metric,
        best_epoch: state.best_epoch,
        // The learnable filterbank belongs to the front end (the paper's Table 3 counts it).
        frontend_params: diffres::trainable_params(&evaluated.filterbank)
            + diffres::trainable_params(&evaluated.frontend),
        classifier_params: diffres::trainable_params(&evaluated.classifier),
        frames_in: Some(cfg.frames_of_rows(data.frames)),
        frames_out: Some(frames_out),
        wall_time_s: state.elapsed_s,
        clips: [
            data.indices(Split::Train).len(),
            data.indices(Split::Val).len(),
            test_idx.len(),
        ],
        skipped_files: data.skipped.len(),
        evaluated_model: Some(
            if averaged.is_some() {
                "averaged"
            } else {
                "best"
            }
            .into(),
        ),
        averaged_epochs: averaged.as_ref().map(|(from, ..)| [*from, cfg.epochs]),
        averaged_val_metric: averaged.as_ref().map(|(_, val, ..)| *val),
        best_epoch_test_metric: averaged
            .as_ref()
            .and(best_test.as_ref())
            .map(|t| t.primary().1),
    })
}

/// The run's optimiser: Adam with its beta1 and L2 weight decay (PyTorch's `Adam` semantics:
/// the decay is added to the gradient).
fn adam(cfg: &TrainConfig) -> AdamConfig {
    let adam = AdamConfig::new().with_beta_1(cfg.adam_beta1 as f32);
    if cfg.weight_decay > 0.0 {
        adam.with_weight_decay(Some(burn::optim::decay::WeightDecayConfig::new(
            cfg.weight_decay as f32,
        )))
    } else {
        adam
    }
}

/// Refuses to resume a run with different essentials.
fn check_same_run(stored: &TrainConfig, cfg: &TrainConfig, root: &Path) -> Result<()> {
    let checks = [
        (
            "--frontend",
            stored.frontend.name().to_string(),
            cfg.frontend.name().to_string(),
        ),
        (
            "--reduction",
            stored.reduction.to_string(),
            cfg.reduction.to_string(),
        ),
        ("--mels", stored.mels.to_string(), cfg.mels.to_string()),
        (
            "--filterbank",
            stored.filterbank.to_string(),
            cfg.filterbank.to_string(),
        ),
        (
            "--hop-ms",
            stored.hop_ms.to_string(),
            cfg.hop_ms.to_string(),
        ),
        (
            "--model",
            stored.model.name().to_string(),
            cfg.model.name().to_string(),
        ),
        ("--seed", stored.seed.to_string(), cfg.seed.to_string()),
        (
            "--features",
            stored.features.to_string(),
            cfg.features.to_string(),
        ),
        ("--head", stored.head.to_string(), cfg.head.to_string()),
        (
            "--aggregation",
            stored.aggregation.to_string(),
            cfg.aggregation.to_string(),
        ),
        (
            "--no-resolution-encoding",
            stored.no_resolution_encoding.to_string(),
            cfg.no_resolution_encoding.to_string(),
        ),
        ("--warp", stored.warp.to_string(), cfg.warp.to_string()),
        ("--loss", stored.loss.to_string(), cfg.loss.to_string()),
        (
            "--average-from",
            format!("{:?}", stored.average_from),
            format!("{:?}", cfg.average_from),
        ),
        (
            "--log-every",
            stored.log_every.to_string(),
            cfg.log_every.to_string(),
        ),
        (
            "--guide-lambda",
            stored.guide_lambda.to_string(),
            cfg.guide_lambda.to_string(),
        ),
        (
            "--guide-weight",
            stored.guide_weight.to_string(),
            cfg.guide_weight.to_string(),
        ),
        (
            "--data",
            stored.data.display().to_string(),
            cfg.data.display().to_string(),
        ),
    ];
    for (flag, a, b) in checks {
        if a != b {
            return Err(TrainError::Run {
                path: root.to_path_buf(),
                reason: format!("cannot resume: the run was trained with {flag} {a}, not {b}"),
            });
        }
    }
    Ok(())
}
