//! The training loop: Adam, step schedule, SpecAugment, mixup, guide loss, per-epoch
//! evaluation, best and last checkpoints, resume, progress and curves.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use diffres_data::Split;
use diffres_report::{evaluate_multi_label, evaluate_single_label, Evaluation};

use crate::batch::{assemble, epoch_order, mixup, rng_for, spec_augment, HostBatch};
use crate::checkpoint::{load_optimizer, save_model, save_optimizer};
use crate::config::{TrainConfig, RUN_FORMAT_VERSION};
use crate::data::{prepare, PreparedData};
use crate::error::{io_err, Result, TrainError};
use crate::loss::{binary_cross_entropy, cross_entropy};
use crate::model::{device, AudioModel};
use crate::run::{write_atomic, write_json, EpochMetrics, RunDir, RunInfo, RunResults, TrainState};

pub use crate::checkpoint::load_checkpoint;

/// Batches used to re-estimate batch-norm statistics after each epoch.
///
/// Running statistics are an exponential average (momentum 0.1) of batch statistics taken
/// while the weights move; with a high learning rate and mostly-constant inputs (clips padded
/// with silence) they lag far behind the final weights. Measured on FSDD: inference accuracy on
/// the training clips was 28% with the averaged statistics and 64% after re-estimating them with
/// the epoch's final weights, which is what training mode achieves. This is "precise BN": after
/// each epoch, forward passes in training mode (no augmentation, no gradient step) on up to this
/// many training batches bring the statistics to the current weights (0.9^32 = 3% of the old
/// average remains).
pub const BN_REFRESH_BATCHES: usize = 32;

/// How to run a training (as opposed to what to train, [`TrainConfig`]).
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Run folder.
    pub out: PathBuf,
    /// Continue the run in `out` from its last finished epoch.
    pub resume: bool,
    /// Feature cache (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Show progress bars and per-epoch lines. Warnings are printed either way.
    pub progress: bool,
    /// Stop (as if killed) after this many epochs of this invocation; for tests.
    pub stop_after: Option<usize>,
}

/// Tensors of a host batch on a device; the host buffers move into them (no copy).
///
/// Returns `(x [B, T, F], targets [B, C], lengths)`.
pub(crate) fn to_tensors(
    batch: HostBatch,
    frames: usize,
    mels: usize,
    classes: usize,
    device: &Device,
) -> (Tensor<3>, Tensor<2>, Vec<usize>) {
    let size = batch.size;
    let x = Tensor::<3>::from_data(TensorData::new(batch.x, [size, frames, mels]), device);
    let y = Tensor::<2>::from_data(TensorData::new(batch.targets, [size, classes]), device);
    (x, y, batch.lengths)
}

/// Classification loss of the run's task.
pub(crate) fn task_loss(multi_label: bool, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    if multi_label {
        binary_cross_entropy(logits, targets)
    } else {
        cross_entropy(logits, targets)
    }
}

/// Class probabilities from logits `[B, C]`, row-major on the host: independent sigmoids for
/// multi-label tasks, a softmax otherwise.
pub fn probabilities(multi_label: bool, logits: Tensor<2>) -> Vec<f32> {
    let p = if multi_label {
        burn::tensor::activation::sigmoid(logits)
    } else {
        burn::tensor::activation::softmax(logits, 1)
    };
    p.into_data()
        .convert::<f32>()
        .try_to_vec()
        .expect("float data")
}

/// Probabilities (softmax or sigmoid) for the given clips, and the mean classification loss.
///
/// # Errors
/// Front-end errors.
pub fn predict_clips(
    model: &AudioModel,
    data: &PreparedData,
    clips: &[usize],
    batch_size: usize,
    variable_length: bool,
    device: &Device,
) -> Result<(Vec<Vec<f32>>, f64)> {
    let classes = data.dataset.classes.len();
    let multi = data.dataset.multi_label;
    let mut probs = Vec::with_capacity(clips.len());
    let mut loss_sum = 0.0;
    for chunk in clips.chunks(batch_size.max(1)) {
        let batch = assemble(data, chunk);
        let (x, y, lengths) = to_tensors(batch, data.frames, data.mels, classes, device);
        let lengths = variable_length.then_some(&lengths[..]);
        let (logits, _) = model.forward(x, lengths)?;
        loss_sum +=
            task_loss(multi, logits.clone(), y).into_scalar::<f32>() as f64 * chunk.len() as f64;
        let values = probabilities(multi, logits);
        probs.extend(values.chunks(classes).map(<[f32]>::to_vec));
    }
    Ok((probs, loss_sum / clips.len().max(1) as f64))
}

/// Metrics of predicted probabilities against the dataset's labels.
pub fn evaluate_probs(data: &PreparedData, clips: &[usize], probs: &[Vec<f32>]) -> Evaluation {
    let labels: Vec<&Vec<usize>> = clips
        .iter()
        .map(|&i| &data.dataset.clips[i].labels)
        .collect();
    if data.dataset.multi_label {
        let classes = data.dataset.classes.len();
        let targets: Vec<Vec<bool>> = labels
            .iter()
            .map(|l| (0..classes).map(|c| l.contains(&c)).collect())
            .collect();
        evaluate_multi_label(probs, &targets)
    } else {
        let targets: Vec<usize> = labels.iter().map(|l| l[0]).collect();
        evaluate_single_label(probs, &targets)
    }
}

/// Output frames per second of audio of a run, as measured: `frames_out` per `frames_in`
/// frames of the hop (24.75 for 101 input frames reduced to 25 at a 10 ms hop).
pub fn output_fps(cfg: &TrainConfig, frames_in: usize, frames_out: usize) -> f64 {
    frames_out as f64 / frames_in as f64 * 1000.0 / cfg.hop_ms as f64
}

/// Nominal output frames per second: frames kept per second of audio at the hop,
/// `(1 - reduction) * 1000 / hop_ms` (25 at a 10 ms hop with reduction 0.75), the figure the
/// paper and a reader use.
pub fn nominal_fps(cfg: &TrainConfig) -> f64 {
    let reduction = if cfg.frontend == diffres::FrontEndKind::Identity {
        0.0
    } else {
        cfg.reduction
    };
    diffres_report::nominal_fps(reduction, cfg.hop_ms as f64)
}

/// Trains a model as configured, writing everything to `opts.out`, and returns its results.
///
/// # Errors
/// Invalid options, dataset or audio errors, a run folder that exists without `--resume`
/// (or does not fit `cfg` with it), I/O errors, divergence.
pub fn train(cfg: &TrainConfig, opts: &TrainOptions) -> Result<RunResults> {
    cfg.validate()?;
    let base = device(&cfg.device)?;
    let run = RunDir::new(&opts.out);
    fs::create_dir_all(run.checkpoints()).map_err(io_err(run.checkpoints()))?;
    // Held until this function returns: one writer per run folder.
    let _lock = run.lock()?;
    let resuming = opts.resume && run.state().is_file();
    if !opts.resume && run.config().exists() {
        return Err(TrainError::Run {
            path: run.root.clone(),
            reason: "already holds a run: pass --resume to continue it, or choose another --out"
                .into(),
        });
    }
    // Run format of the files being resumed (older formats have no checksums).
    let mut stored_format = RUN_FORMAT_VERSION;
    if resuming {
        let stored = run.read_info()?;
        check_same_run(&stored.config, cfg, &run.root)?;
        stored_format = stored.format_version;
    }
    let stale = run.remove_stale_temporaries();
    if stale > 0 && opts.progress {
        eprintln!(
            "removed {stale} temporary file(s) left by an interrupted run in {}",
            run.root.display()
        );
    }

    let data = prepare(cfg, opts.cache_dir.as_deref(), opts.progress)?;
    let classes = data.dataset.classes.len();
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
    train_device.seed(cfg.seed);
    let mut model = AudioModel::new(cfg, classes, &train_device)?;
    if let Some(init) = &cfg.init {
        model.classifier = diffres_models::load_weights(model.classifier, init)?;
    }
    let mut optim = AdamConfig::new().init();
    let frames_out = crate::model::frontend_config(cfg).output_frames(data.frames)?;

    let mut state = TrainState {
        epoch: 0,
        checkpoint: String::new(),
        optimizer: String::new(),
        best_metric: f64::NEG_INFINITY,
        best_epoch: 0,
        history: Vec::new(),
        elapsed_s: 0.0,
    };
    if resuming {
        let legacy = stored_format < 2;
        state = run.read_state(stored_format)?;
        let ckpt = run.checkpoints().join(&state.checkpoint);
        model = load_checkpoint(model, &ckpt, legacy)?;
        let optim_path = run.checkpoints().join(&state.optimizer);
        optim = load_optimizer(optim, &optim_path, legacy)?;
        if legacy {
            // config.json now says the current format: give the old files their checksums.
            crate::checkpoint::seal_legacy_file(&run.best())?;
            save_model(&model, &ckpt)?;
            save_optimizer(&optim, &optim_path)?;
            run.write_state(&state)?;
        }
    }

    let train_idx = data.indices(Split::Train);
    // Model selection uses the validation split only: never the test split (that would
    // select on the test data) nor the training clips (that would select nothing).
    let eval_split = Split::Val;
    let eval_idx = data.indices(Split::Val);
    if eval_idx.is_empty() {
        return Err(TrainError::Config(format!(
            "dataset {} has no readable validation clip: model selection needs one",
            cfg.data.display()
        )));
    }
    let balance = cfg.balance.unwrap_or(data.dataset.multi_label);
    let silence = cfg.log_mel().silence_value();
    let steps = train_idx.len().div_ceil(cfg.batch_size);
    if opts.progress {
        eprintln!(
            "{}: {} classes, {} train / {} {} clips, {} -> {} frames, front end {} + {}",
            data.dataset.name,
            classes,
            train_idx.len(),
            eval_idx.len(),
            eval_split.as_str(),
            data.frames,
            frames_out,
            cfg.frontend,
            cfg.model
        );
    }

    let mut last_metric = state
        .history
        .last()
        .map(|m| (m.val.primary().0, m.val_metric));
    for (epochs_run, epoch) in (state.epoch + 1..=cfg.epochs).enumerate() {
        if opts.stop_after.is_some_and(|n| epochs_run >= n) {
            break;
        }
        let started = Instant::now();
        // Dropout and other device randomness restart from a per-epoch seed: resumable.
        train_device.seed(cfg.seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64));
        let lr = cfg.lr_at(epoch);
        let order = epoch_order(&data, &train_idx, cfg.seed, epoch, balance);
        let bar = crate::progress::bar(
            steps as u64,
            &format!("epoch {epoch}/{}", cfg.epochs),
            opts.progress,
        );
        let (mut loss_sum, mut task_sum, mut guide_sum, mut active_sum) = (0.0, 0.0, 0.0, 0.0);
        for (step, chunk) in order.chunks(cfg.batch_size).enumerate() {
            let mut batch = assemble(&data, chunk);
            if cfg.specaugment {
                spec_augment(
                    &mut batch,
                    data.frames,
                    data.mels,
                    silence,
                    &mut rng_for(cfg.seed, epoch, step + 1, 2),
                );
            }
            if cfg.mixup {
                mixup(
                    &mut batch,
                    data.frames,
                    data.mels,
                    classes,
                    &mut rng_for(cfg.seed, epoch, step + 1, 3),
                );
            }
            let (x, y, lengths) = to_tensors(batch, data.frames, data.mels, classes, &train_device);
            let lengths = cfg.variable_length.then_some(&lengths[..]);
            let (logits, out) = model.forward(x, lengths)?;
            let task = task_loss(data.dataset.multi_label, logits, y);
            let loss = task.clone() + out.guide_loss.clone() * cfg.guide_weight;
            let loss_value = loss.clone().into_scalar::<f32>() as f64;
            if !loss_value.is_finite() {
                return Err(TrainError::Diverged(format!(
                    "loss is {loss_value} at epoch {epoch}, step {}; try a lower --lr",
                    step + 1
                )));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            let n = chunk.len() as f64;
            loss_sum += loss_value * n;
            task_sum += task.into_scalar::<f32>() as f64 * n;
            guide_sum += out.guide_loss.into_scalar::<f32>() as f64 * n;
            active_sum += out.activeness.into_scalar::<f32>() as f64 * n;
            let metric = last_metric.map_or(String::new(), |(name, v)| {
                format!(", last {} {name} {v:.3}", eval_split.as_str())
            });
            let seen = (step * cfg.batch_size) as f64 + n;
            bar.set_message(format!("loss {:.3}{metric}", loss_sum / seen));
            bar.inc(1);
        }
        bar.finish_and_clear();
        refresh_batch_norm(&model, &data, &order, cfg, &train_device)?;
        let train_time = started.elapsed().as_secs_f64();

        let valid = model.valid();
        let (probs, val_loss) = predict_clips(
            &valid,
            &data,
            &eval_idx,
            cfg.batch_size,
            cfg.variable_length,
            &base,
        )?;
        let val = evaluate_probs(&data, &eval_idx, &probs);
        let (_, val_metric) = val.primary();
        let n = train_idx.len() as f64;
        let metrics = EpochMetrics {
            epoch,
            lr,
            train_loss: loss_sum / n,
            train_task_loss: task_sum / n,
            train_guide_loss: guide_sum / n,
            train_activeness: active_sum / n,
            val_loss,
            val_metric,
            val,
            time_s: started.elapsed().as_secs_f64(),
            clips_per_s: n / train_time.max(1e-9),
        };
        if opts.progress {
            eprintln!(
                "epoch {epoch:>3}: loss {:.4} (guide {:.4}, activeness {:.4}) | {} {} {:.4} | {:.1} clips/s",
                metrics.train_loss,
                metrics.train_guide_loss,
                metrics.train_activeness,
                eval_split.as_str(),
                metrics.val.primary().0,
                val_metric,
                metrics.clips_per_s
            );
        }
        last_metric = Some((metrics.val.primary().0, val_metric));
        state.elapsed_s += metrics.time_s;
        state.history.push(metrics);
        save_epoch(&run, &model, &optim, &mut state, epoch, val_metric)?;
        crate::curves::write_curves(&run.root, &state.history)?;
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

    // Final test metrics with the best checkpoint; none without a test split (never the
    // metrics of clips the model was trained or selected on).
    let best = load_checkpoint(AudioModel::new(cfg, classes, &base)?, &run.best(), false)?;
    let test_idx = data.indices(Split::Test);
    let test = if test_idx.is_empty() {
        eprintln!(
            "warning: {} has no test split: results.json reports no test metrics",
            cfg.data.display()
        );
        None
    } else {
        let (probs, _) = predict_clips(
            &best,
            &data,
            &test_idx,
            cfg.batch_size,
            cfg.variable_length,
            &base,
        )?;
        Some(evaluate_probs(&data, &test_idx, &probs))
    };
    let metric = state
        .history
        .last()
        .map_or("accuracy", |m| m.val.primary().0);
    let results = RunResults {
        format_version: RUN_FORMAT_VERSION,
        frontend: cfg.frontend.name().to_string(),
        reduction: if cfg.frontend == diffres::FrontEndKind::Identity {
            0.0
        } else {
            cfg.reduction
        },
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
        frontend_params: diffres::trainable_params(&best.frontend),
        classifier_params: diffres::trainable_params(&best.classifier),
        frames_in: data.frames,
        frames_out,
        wall_time_s: state.elapsed_s,
        clips: [
            train_idx.len(),
            data.indices(Split::Val).len(),
            data.indices(Split::Test).len(),
        ],
        skipped_files: data.skipped.len(),
    };
    write_json(&run.results(), &results)?;
    Ok(results)
}

/// Re-estimates every batch-norm layer's running statistics with the current weights: forward
/// passes in training mode over the first [`BN_REFRESH_BATCHES`] batches of the epoch's order,
/// without augmentation and without a gradient step. See [`BN_REFRESH_BATCHES`] for why.
fn refresh_batch_norm(
    model: &AudioModel,
    data: &PreparedData,
    order: &[usize],
    cfg: &TrainConfig,
    device: &Device,
) -> Result<()> {
    let classes = data.dataset.classes.len();
    for chunk in order.chunks(cfg.batch_size).take(BN_REFRESH_BATCHES) {
        let batch = assemble(data, chunk);
        let (x, _, lengths) = to_tensors(batch, data.frames, data.mels, classes, device);
        let lengths = cfg.variable_length.then_some(&lengths[..]);
        // A training-mode forward updates the running statistics; the graph is dropped.
        let (logits, _) = model.forward(x, lengths)?;
        drop(logits);
    }
    Ok(())
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

fn save_epoch(
    run: &RunDir,
    model: &AudioModel,
    optim: &burn::optim::ModuleOptimizer,
    state: &mut TrainState,
    epoch: usize,
    val_metric: f64,
) -> Result<()> {
    let dir = run.checkpoints();
    let ckpt = format!("epoch-{epoch:03}.bpk");
    let opt = format!("epoch-{epoch:03}.optim.bpk");
    save_model(model, &dir.join(&ckpt))?;
    save_optimizer(optim, &dir.join(&opt))?;
    // NaN metrics never count as best; ties keep the earlier epoch (exactly: the stored best
    // reads back bit for bit).
    if val_metric > state.best_metric || state.best_epoch == 0 {
        save_model(model, &run.best())?;
        state.best_metric = if val_metric.is_nan() {
            f64::NEG_INFINITY
        } else {
            val_metric
        };
        state.best_epoch = epoch;
    }
    let previous = (state.checkpoint.clone(), state.optimizer.clone());
    state.epoch = epoch;
    state.checkpoint = ckpt;
    state.optimizer = opt;
    let lines: String = state
        .history
        .iter()
        .map(|m| serde_json::to_string(m).expect("plain data") + "\n")
        .collect();
    write_atomic(&run.metrics(), lines.as_bytes())?;
    run.write_state(state)?;
    for old in [previous.0, previous.1] {
        if !old.is_empty() && old != state.checkpoint && old != state.optimizer {
            fs::remove_file(dir.join(old)).ok();
        }
    }
    Ok(())
}
