//! One training step and one training epoch: augmentation, the objective (task loss plus the
//! weighted guide loss), the optimiser step, statistics, and the batch-norm refresh.
//!
//! The objective ([`objective`]) is kept apart from the optimiser step ([`train_step`]) so
//! that a data-parallel driver (Burn 0.22's `DistributedContext` / `all_reduce`, or
//! burn-train's data-parallel strategy) can compute it on several devices, reduce the
//! gradients and step once, without another rewrite.

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::batch::{assemble, mixup, rng_for, spec_augment, HostBatch};
use crate::config::TrainConfig;
use crate::data::PreparedData;
use crate::error::{Result, TrainError};
use crate::loss::task_loss;
use crate::model::AudioModel;
use crate::reporter::Reporter;

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

/// RNG purposes of a step (with [`rng_for`]): each augmentation draws from its own stream, so
/// turning one on does not change the other's draws.
const SPEC_AUGMENT_STREAM: u64 = 2;
/// See [`SPEC_AUGMENT_STREAM`].
const MIXUP_STREAM: u64 = 3;

/// Sums over the clips of one or more steps, each value weighted by the step's clip count.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepStats {
    /// Clips seen.
    pub clips: usize,
    /// Sum of `loss * clips` (task + weighted guide loss).
    pub loss: f64,
    /// Sum of `task loss * clips`.
    pub task: f64,
    /// Sum of `guide loss * clips`.
    pub guide: f64,
    /// Sum of `activeness * clips`.
    pub activeness: f64,
}

impl StepStats {
    /// Adds another step's sums.
    pub fn add(&mut self, other: &StepStats) {
        self.clips += other.clips;
        self.loss += other.loss;
        self.task += other.task;
        self.guide += other.guide;
        self.activeness += other.activeness;
    }

    /// Mean loss per clip so far.
    pub fn mean_loss(&self) -> f64 {
        self.loss / self.clips.max(1) as f64
    }
}

/// SpecAugment and mixup as configured, each from its own seeded stream of this step.
pub fn augment(
    batch: &mut HostBatch,
    cfg: &TrainConfig,
    data: &PreparedData,
    epoch: usize,
    step: usize,
) {
    let classes = data.dataset.classes.len();
    if cfg.specaugment {
        let silence = cfg.pad_value();
        let mut rng = rng_for(cfg.seed, epoch, step + 1, SPEC_AUGMENT_STREAM);
        spec_augment(batch, data.frames, data.mels, silence, &mut rng);
    }
    if cfg.mixup {
        let mut rng = rng_for(cfg.seed, epoch, step + 1, MIXUP_STREAM);
        mixup(batch, data.frames, data.mels, classes, &mut rng);
    }
}

/// The training objective of one batch: the task loss plus `guide_weight` times DiffRes's
/// guide loss, and the batch's statistics (read back once per step).
///
/// # Errors
/// Front-end errors.
pub fn objective(
    model: &AudioModel,
    batch: HostBatch,
    cfg: &TrainConfig,
    data: &PreparedData,
    device: &Device,
) -> Result<(Tensor<1>, StepStats)> {
    let clips = batch.size;
    let classes = data.dataset.classes.len();
    let (x, y, lengths) = batch.into_tensors(data.frames, data.mels, classes, device);
    let lengths = cfg.variable_length.then_some(&lengths[..]);
    let (logits, out) = model.forward(x, lengths)?;
    let task = task_loss(model.classifier.head(), data.dataset.multi_label, logits, y);
    let loss = task.clone() + out.guide_loss.clone() * cfg.guide_weight;
    let n = clips as f64;
    let stats = StepStats {
        clips,
        loss: loss.clone().into_scalar::<f32>() as f64 * n,
        task: task.into_scalar::<f32>() as f64 * n,
        guide: out.guide_loss.into_scalar::<f32>() as f64 * n,
        activeness: out.activeness.into_scalar::<f32>() as f64 * n,
    };
    Ok((loss, stats))
}

/// What every step of a run reads: its options, its data and the device it trains on.
#[derive(Clone, Copy, Debug)]
pub struct StepContext<'a> {
    /// The run's options.
    pub cfg: &'a TrainConfig,
    /// The dataset's features.
    pub data: &'a PreparedData,
    /// The (autodiff) training device.
    pub device: &'a Device,
}

/// Where a step is, for messages.
#[derive(Clone, Copy, Debug)]
pub struct StepAt {
    /// 1-based epoch.
    pub epoch: usize,
    /// 0-based step in the epoch.
    pub step: usize,
}

/// One optimisation step: the objective, its gradients, Adam at `lr`.
///
/// # Errors
/// Front-end errors, or a non-finite loss (divergence).
pub fn train_step(
    model: AudioModel,
    optim: &mut ModuleOptimizer,
    lr: f64,
    batch: HostBatch,
    at: StepAt,
    ctx: StepContext<'_>,
) -> Result<(AudioModel, StepStats)> {
    let (loss, stats) = objective(&model, batch, ctx.cfg, ctx.data, ctx.device)?;
    let value = stats.loss / stats.clips.max(1) as f64;
    if !value.is_finite() {
        return Err(TrainError::Diverged(format!(
            "loss is {value} at epoch {}, step {}; try a lower --lr",
            at.epoch,
            at.step + 1
        )));
    }
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    Ok((optim.step(lr, model, grads), stats))
}

/// One epoch over `order` (clip indices, in batches of the configured size).
///
/// # Errors
/// As [`train_step`].
pub fn train_epoch(
    mut model: AudioModel,
    optim: &mut ModuleOptimizer,
    order: &[usize],
    epoch: usize,
    ctx: StepContext<'_>,
    reporter: &dyn Reporter,
    last_metric: Option<(&str, f64)>,
) -> Result<(AudioModel, StepStats)> {
    let (cfg, data) = (ctx.cfg, ctx.data);
    let lr = cfg.lr_at(epoch);
    let steps = order.len().div_ceil(cfg.batch_size);
    let bar = reporter.bar(steps as u64, &format!("epoch {epoch}/{}", cfg.epochs));
    let last = last_metric.map_or(String::new(), |(name, v)| {
        format!(", last val {name} {v:.3}")
    });
    let mut total = StepStats::default();
    for (step, chunk) in order.chunks(cfg.batch_size).enumerate() {
        let mut batch = assemble(data, chunk);
        augment(&mut batch, cfg, data, epoch, step);
        let stats;
        (model, stats) = train_step(model, optim, lr, batch, StepAt { epoch, step }, ctx)?;
        total.add(&stats);
        bar.set_message(format!("loss {:.3}{last}", total.mean_loss()));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((model, total))
}

/// Re-estimates every batch-norm layer's running statistics with the current weights: forward
/// passes in training mode over the first [`BN_REFRESH_BATCHES`] batches of the epoch's order,
/// without augmentation and without a gradient step. See [`BN_REFRESH_BATCHES`] for why.
///
/// # Errors
/// Front-end errors.
pub fn refresh_batch_norm(
    model: &AudioModel,
    data: &PreparedData,
    order: &[usize],
    cfg: &TrainConfig,
    device: &Device,
) -> Result<()> {
    let classes = data.dataset.classes.len();
    for chunk in order.chunks(cfg.batch_size).take(BN_REFRESH_BATCHES) {
        let batch = assemble(data, chunk);
        let (x, _, lengths) = batch.into_tensors(data.frames, data.mels, classes, device);
        let lengths = cfg.variable_length.then_some(&lengths[..]);
        // A training-mode forward updates the running statistics; the graph is dropped.
        let (logits, _) = model.forward(x, lengths)?;
        drop(logits);
    }
    Ok(())
}

/// The inference-mode copy of a model being trained (no autodiff, frozen batch norm).
pub fn valid_model(model: &AudioModel) -> AudioModel {
    model.valid()
}
