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

use crate::batch::{
    assemble, mix_pairs, mix_targets, mixup, spec_augment, HostBatch, MaskWidths, MixupDomain,
    RngStream,
};
use crate::config::TrainConfig;
use crate::data::PreparedData;
use crate::error::{Result, TrainError};
use crate::loss::OutputKind;
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

/// Batches read ahead of the training step (bounded, so memory does not grow with the data).
pub const PREFETCH_BATCHES: usize = 2;

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
    /// Learning rate of the step (of the last step added, for sums).
    pub lr: f64,
}

impl StepStats {
    /// Adds another step's sums.
    pub fn add(&mut self, other: &StepStats) {
        self.clips += other.clips;
        self.loss += other.loss;
        self.task += other.task;
        self.guide += other.guide;
        self.activeness += other.activeness;
        self.lr = other.lr;
    }

    /// Mean loss per clip so far.
    pub fn mean_loss(&self) -> f64 {
        self.loss / self.clips.max(1) as f64
    }
}

/// The training batch of clips `chunk` at `(epoch, step)`: mixup as configured (on the
/// features, or on the waveforms with their features recomputed), then SpecAugment, in PSLA's
/// order; each from its own seeded stream of this step.
///
/// # Errors
/// A clip that can no longer be read or decoded.
pub fn augmented_batch(
    data: &PreparedData,
    chunk: &[usize],
    cfg: &TrainConfig,
    epoch: usize,
    step: usize,
) -> Result<HostBatch> {
    let mut batch = assemble(data, chunk)?;
    let classes = data.dataset.classes.len();
    if cfg.mixup > 0.0 {
        let mut rng = RngStream::Mixup.rng(cfg.seed, epoch, step);
        match cfg.mixup_on {
            MixupDomain::LogMel => mixup(
                &mut batch,
                data.frames,
                data.mels,
                classes,
                cfg.mixup,
                &mut rng,
            ),
            MixupDomain::Waveform => {
                let pairs = mix_pairs(batch.size, cfg.mixup, &mut rng);
                data.mix_waveforms(chunk, &pairs, &mut batch)?;
                mix_targets(&mut batch, classes, &pairs);
            }
        }
    }
    if cfg.specaugment {
        let silence = data.pad_value();
        let mut rng = RngStream::SpecAugment.rng(cfg.seed, epoch, step);
        let widths = MaskWidths {
            freq: cfg.freq_mask,
            time: cfg.time_mask,
        };
        spec_augment(
            &mut batch,
            data.frames,
            data.mels,
            silence,
            widths,
            &mut rng,
        );
    }
    Ok(batch)
}

/// The training objective of one batch: the task loss plus `guide_weight` times DiffRes's
/// guide loss, and the batch's statistics (read back once per step).
///
/// # Errors
/// Front-end errors.
pub fn objective(
    model: &AudioModel,
    batch: HostBatch,
    ctx: StepContext<'_>,
) -> Result<(Tensor<1>, StepStats)> {
    let (cfg, data) = (ctx.cfg, ctx.data);
    let clips = batch.size;
    let classes = data.dataset.classes.len();
    let (x, y, lengths) = batch.into_tensors(data.frames, data.mels, classes, ctx.device);
    let lengths = cfg.variable_length.then_some(&lengths[..]);
    let (logits, out) = model.forward(x, lengths)?;
    let task = ctx.output.loss(logits, y);
    let loss = task.clone() + out.guide_loss.clone() * cfg.guide_weight;
    let n = clips as f64;
    // One read of the four statistics (on a GPU each read waits for the device).
    let values = diffres::host::read_f32(&Tensor::cat(
        vec![
            loss.clone().detach().reshape([1]),
            task.detach().reshape([1]),
            out.guide_loss.detach(),
            out.activeness.detach(),
        ],
        0,
    ));
    let stats = StepStats {
        clips,
        loss: values[0] as f64 * n,
        task: values[1] as f64 * n,
        guide: values[2] as f64 * n,
        activeness: values[3] as f64 * n,
        lr: 0.0,
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
    /// What the model outputs: its loss and probabilities.
    pub output: OutputKind,
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
    let (loss, mut stats) = objective(&model, batch, ctx)?;
    stats.lr = lr;
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

/// One epoch over `order` (clip indices, in batches of the configured size) whose first step
/// is the run's 0-based step `first_step`: the model after it, the epoch's sums and every
/// step's own statistics (for `steps.jsonl`).
///
/// # Errors
/// As [`train_step`].
#[allow(clippy::too_many_arguments)]
pub fn train_epoch(
    model: AudioModel,
    optim: &mut ModuleOptimizer,
    order: &[usize],
    epoch: usize,
    first_step: usize,
    ctx: StepContext<'_>,
    reporter: &dyn Reporter,
    last_metric: Option<(&str, f64)>,
) -> Result<(AudioModel, StepStats, Vec<StepStats>)> {
    let (cfg, data) = (ctx.cfg, ctx.data);
    let steps = order.len().div_ceil(cfg.batch_size);
    let bar = reporter.bar(steps as u64, &format!("epoch {epoch}/{}", cfg.epochs));
    let last = last_metric.map_or(String::new(), |(name, v)| {
        format!(", last val {name} {v:.3}")
    });
    let mut total = StepStats::default();
    let mut per_step = Vec::with_capacity(steps);
    // Batches are read (from the feature cache when streaming) and augmented on another
    // thread, at most PREFETCH_BATCHES ahead of the step that uses them.
    let model = std::thread::scope(|scope| -> Result<AudioModel> {
        let (send, receive) = std::sync::mpsc::sync_channel(PREFETCH_BATCHES);
        scope.spawn(move || {
            for (step, chunk) in order.chunks(cfg.batch_size).enumerate() {
                let batch = augmented_batch(data, chunk, cfg, epoch, step);
                let failed = batch.is_err();
                if send.send(batch).is_err() || failed {
                    break; // the step stopped listening, or there is nothing more to read
                }
            }
        });
        let mut model = model;
        for (step, batch) in receive.into_iter().enumerate() {
            let stats;
            let lr = cfg.lr_at_step(epoch, first_step + step);
            (model, stats) = train_step(model, optim, lr, batch?, StepAt { epoch, step }, ctx)?;
            total.add(&stats);
            per_step.push(stats);
            bar.set_message(format!("loss {:.3}{last}", total.mean_loss()));
            bar.inc(1);
        }
        Ok(model)
    })?;
    bar.finish_and_clear();
    Ok((model, total, per_step))
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
    // Parameters that need no gradient: the forward passes build no autodiff graph (one held
    // per pass until backward would grow memory with every batch), while batch norm still
    // takes its training path and updates the running statistics, which the copy shares.
    let model = model.clone().no_grad();
    for chunk in order.chunks(cfg.batch_size).take(BN_REFRESH_BATCHES) {
        let batch = assemble(data, chunk)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ClipFeatures;
    use diffres::FrontEndKind;
    use diffres_data::{Clip, Dataset, Format, Split};

    /// `clips` clips of noise around -6 in two classes, all in the training split.
    fn noise_data(frames: usize, mels: usize, clips: usize) -> PreparedData {
        let mut state = 7u32;
        let mut noise = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 8.0
        };
        let features = (0..clips)
            .map(|_| {
                Some(ClipFeatures {
                    data: (0..frames * mels).map(|_| noise()).collect(),
                    valid: frames,
                })
            })
            .collect();
        let dataset = Dataset {
            name: "noise".into(),
            format: Format::Csv,
            classes: vec!["a".into(), "b".into()],
            multi_label: false,
            clips: (0..clips)
                .map(|i| Clip {
                    path: format!("{i}.wav").into(),
                    labels: vec![i % 2],
                    split: Split::Train,
                })
                .collect(),
            notes: Vec::new(),
            warnings: Vec::new(),
        };
        PreparedData::in_memory(dataset, frames, mels, features)
    }

    /// DiffRes (half the frames) + a width-4 compact CNN, batches of 4.
    fn small_diffres_config(mels: usize) -> TrainConfig {
        TrainConfig {
            frontend: FrontEndKind::DiffRes,
            reduction: 0.5,
            mels,
            cnn_width: 4,
            batch_size: 4,
            ..TrainConfig::default()
        }
    }

    /// The refresh without an autodiff graph leaves exactly the statistics that forward
    /// passes with one leave (it only stops holding the graphs).
    #[test]
    fn the_graph_free_refresh_updates_batch_norm_as_tracked_passes_do() {
        let (frames, mels, clips) = (20, 16, 12);
        let data = noise_data(frames, mels, clips);
        let cfg = small_diffres_config(mels);
        let device = Device::flex().autodiff();
        let order: Vec<usize> = (0..clips).collect();
        let fresh = || {
            device.seed(3);
            AudioModel::new(&cfg, 2, &device).unwrap()
        };
        let graph_free = fresh();
        refresh_batch_norm(&graph_free, &data, &order, &cfg, &device).unwrap();
        let tracked = fresh();
        for chunk in order.chunks(cfg.batch_size) {
            let (x, _, _) = assemble(&data, chunk)
                .unwrap()
                .into_tensors(frames, mels, 2, &device);
            drop(tracked.forward(x, None).unwrap());
        }
        let untouched = fresh();
        let probe = assemble(&data, &order[..4])
            .unwrap()
            .into_tensors(frames, mels, 2, &device)
            .0;
        let infer = |m: &AudioModel| -> Vec<f32> {
            let (logits, _) = valid_model(m).forward(probe.clone().inner(), None).unwrap();
            logits
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap()
        };
        assert_eq!(infer(&graph_free), infer(&tracked));
        assert_ne!(
            infer(&graph_free),
            infer(&untouched),
            "the refresh changed nothing"
        );
    }

    /// A training step on a GPU reads back twice: the layer's flags (non-finite input,
    /// unsettled water-filling) and the step's four statistics. Everything else stays on the
    /// device.
    #[cfg(feature = "wgpu")]
    #[test]
    fn wgpu_training_step_reads_twice() {
        let (frames, mels) = (20, 16);
        let data = noise_data(frames, mels, 4);
        let cfg = small_diffres_config(mels);
        let device = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice).autodiff();
        let model = AudioModel::new(&cfg, 2, &Device::flex().autodiff())
            .unwrap()
            .fork(&device);
        let mut optim = burn::optim::AdamConfig::new().init();
        let ctx = StepContext {
            cfg: &cfg,
            data: &data,
            device: &device,
            output: OutputKind::ExclusiveLogits,
        };
        let batch = assemble(&data, &[0, 1, 2, 3]).unwrap();
        let before = diffres::host_reads();
        let at = StepAt { epoch: 1, step: 0 };
        let (_model, stats) = train_step(model, &mut optim, 1e-3, batch, at, ctx).unwrap();
        assert_eq!(diffres::host_reads() - before, 2);
        assert!(stats.loss.is_finite());
    }
}
