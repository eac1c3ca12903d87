//! Model and optimizer checkpoints: Burn burnpack payloads sealed with a SHA-256 trailer
//! ([`crate::integrity`]), written through a temporary file and a rename, and the two
//! strategies a run keeps them by (as burn-train's checkpointers): the **last** epoch's model
//! and optimizer state, for resuming ([`LastEpoch`]), and the **best** epoch's model by the
//! validation metric, for evaluation ([`BestByMetric`]).
//!
//! A checkpoint whose bytes changed after it was written (a flipped bit on disk, a partial
//! copy) is an error that names the file, never a model with silently wrong weights.

use std::path::Path;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;

use crate::error::{Result, TrainError};
use crate::integrity::{read_sealed, seal};
use crate::model::AudioModel;
use crate::run::{write_atomic, RunDir, TrainState};

fn checkpoint_err(path: &Path, reason: String) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    }
}

/// Writes a model's parameters to `path` (sealed burnpack).
///
/// # Errors
/// Serialisation or I/O errors naming the file.
pub fn save_model(model: &AudioModel, path: &Path) -> Result<()> {
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| checkpoint_err(path, format!("cannot serialise the model: {e}")))?;
    write_atomic(path, &seal(bytes.to_vec()))
}

/// Loads a checkpoint into a model of the right shape.
///
/// `allow_unsealed` accepts a checkpoint without checksum (written by run format 1).
///
/// # Errors
/// A missing or damaged file, or one for another front end, classifier or class count.
pub fn load_checkpoint(model: AudioModel, path: &Path, allow_unsealed: bool) -> Result<AudioModel> {
    if !path.is_file() {
        return Err(checkpoint_err(path, "no such file".into()));
    }
    let payload = read_sealed(path, allow_unsealed)?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(payload))
        .map_err(|e| checkpoint_err(path, format!("not a readable checkpoint: {e}")))?;
    model.try_load_record(record).map_err(|e| {
        checkpoint_err(
            path,
            format!("does not fit this model (another front end, classifier or class count?): {e}"),
        )
    })
}

/// Writes an optimizer's state to `path` (sealed burnpack).
///
/// # Errors
/// Serialisation or I/O errors naming the file.
pub fn save_optimizer(optim: &ModuleOptimizer, path: &Path) -> Result<()> {
    let bytes = optim
        .into_bytes()
        .map_err(|e| checkpoint_err(path, format!("cannot serialise the optimizer state: {e}")))?;
    write_atomic(path, &seal(bytes.to_vec()))
}

/// Loads an optimizer's state written by [`save_optimizer`].
///
/// # Errors
/// A missing, damaged or unreadable file, naming it.
pub fn load_optimizer(
    optim: ModuleOptimizer,
    path: &Path,
    allow_unsealed: bool,
) -> Result<ModuleOptimizer> {
    let payload = read_sealed(path, allow_unsealed)?;
    optim
        .from_bytes(Bytes::from_bytes_vec(payload))
        .map_err(|e| checkpoint_err(path, format!("not a readable optimizer state: {e}")))
}

/// Gives a checkpoint written without checksum (run format 1) its SHA-256 trailer, in place;
/// a file that already has one is left as it is.
///
/// # Errors
/// I/O errors, or a trailer that does not match (a damaged file), naming the file.
pub fn seal_legacy_file(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(crate::error::io_err(path))?;
    match crate::integrity::unseal(&bytes).map_err(|reason| checkpoint_err(path, reason))? {
        crate::integrity::Unsealed::Verified(_) => Ok(()),
        crate::integrity::Unsealed::NoTrailer(_) => write_atomic(path, &seal(bytes)),
    }
}

/// Keeps the last finished epoch's model and optimizer state (`epoch-NNN.bpk`,
/// `epoch-NNN.optim.bpk`), removing the previous epoch's once `state.json` names the new ones.
#[derive(Clone, Copy, Debug, Default)]
pub struct LastEpoch;

impl LastEpoch {
    /// The model checkpoint's file name for an epoch.
    pub fn model_file(epoch: usize) -> String {
        format!("epoch-{epoch:03}.bpk")
    }

    /// The optimizer state's file name for an epoch.
    pub fn optimizer_file(epoch: usize) -> String {
        format!("epoch-{epoch:03}.optim.bpk")
    }
}

/// Keeps the model of the epoch with the highest validation metric (`best.bpk`).
#[derive(Clone, Copy, Debug, Default)]
pub struct BestByMetric;

impl BestByMetric {
    /// Whether `metric` replaces the best so far: strictly higher (ties keep the earlier
    /// epoch, compared bit for bit since the stored best reads back exactly), and the first
    /// epoch always; NaN never counts as higher.
    pub fn improves(state: &TrainState, metric: f64) -> bool {
        metric > state.best_metric || state.best_epoch == 0
    }
}

/// Saves an epoch by both strategies (and the running weight average, if any) and then `state.json` and `metrics.jsonl`, in
/// the order that keeps the folder resumable at every instant (see [`crate::run`]).
///
/// # Errors
/// I/O or serialisation errors naming the file.
pub fn save_epoch(
    run: &RunDir,
    model: &AudioModel,
    optim: &ModuleOptimizer,
    state: &mut TrainState,
    epoch: usize,
    val_metric: f64,
    average: Option<&AudioModel>,
) -> Result<()> {
    let dir = run.checkpoints();
    let (ckpt, opt) = (
        LastEpoch::model_file(epoch),
        LastEpoch::optimizer_file(epoch),
    );
    save_model(model, &dir.join(&ckpt))?;
    save_optimizer(optim, &dir.join(&opt))?;
    if BestByMetric::improves(state, val_metric) {
        save_model(model, &run.best())?;
        state.best_metric = if val_metric.is_nan() {
            f64::NEG_INFINITY
        } else {
            val_metric
        };
        state.best_epoch = epoch;
    }
    let previous = (
        state.checkpoint.clone(),
        state.optimizer.clone(),
        state.average.clone(),
    );
    if let Some(average) = average {
        let file = crate::averaging::average_file(epoch);
        save_model(average, &dir.join(&file))?;
        state.average = file;
    }
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
    for old in [previous.0, previous.1, previous.2] {
        let current = [&state.checkpoint, &state.optimizer, &state.average];
        if !old.is_empty() && !current.contains(&&old) {
            std::fs::remove_file(dir.join(old)).ok();
        }
    }
    Ok(())
}
