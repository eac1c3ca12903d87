//! The authors' PyTorch DiffRes layer (`pydiffres.DiffRes`, github haoheliu/diffres-python)
//! into our [`diffres::DiffRes`] and back out.
//!
//! Both compute the same importance network (five residual 1-D convolution blocks,
//! `conv -> ReLU -> BN` twice, the first block's output added to the second's), with the same
//! kernel layout `[out, in, k]`, so the names map one for one:
//!
//! ```text
//! model.blks.N.cnn1.weight               importance.blocks.N.conv1.weight
//! model.blks.N.batch_norm1.weight        importance.blocks.N.norm1.gamma
//! model.blks.N.batch_norm2.running_var   importance.blocks.N.norm2.running_var
//! pos_emb [1, T, F]                      positions [T, F] (learnable encoding only)
//! ```
//!
//! `pos_emb` is the sinusoidal resolution-encoding basis unless the authors' layer was made
//! with `learn_pos_emb=True`. Our default layer computes the same basis itself, for any `T`;
//! a learned `pos_emb` loads only into a layer with a learnable encoding of `T` rows, and is
//! reported otherwise. The authors' score normalisation is
//! [`diffres::ScoreNormalization::Reference`]: build the layer with it for the authors'
//! outputs.

use std::collections::BTreeMap;

use diffres::position::sinusoidal;
use diffres::DiffRes;

use crate::checkpoint::{apply, collect, weights_err, Checkpoint, HostTensor, Imported};
use crate::error::{ModelError, Result};

/// Largest difference between a checkpoint's `pos_emb` and the sinusoidal basis for which it
/// counts as that basis (the authors build it in `float32`, we in `f64`).
pub const SINUSOIDAL_TOLERANCE: f32 = 1e-4;

/// Our name of an authors' tensor name (without `module.`), or `None`.
fn to_burn(name: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('.').collect();
    let ["model", "blks", i, module, param] = parts.as_slice() else {
        return None;
    };
    i.parse::<usize>().ok()?;
    let norm = module.starts_with("batch_norm");
    let module = match *module {
        "cnn1" => "conv1",
        "cnn2" => "conv2",
        "batch_norm1" => "norm1",
        "batch_norm2" => "norm2",
        _ => return None,
    };
    let param = match *param {
        "weight" if norm => "gamma",
        "bias" if norm => "beta",
        p @ ("weight" | "bias" | "running_mean" | "running_var") => p,
        _ => return None,
    };
    Some(format!("importance.blocks.{i}.{module}.{param}"))
}

/// The authors' name of one of our layer's importance-network tensors, or `None`.
fn to_torch(name: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('.').collect();
    let ["importance", "blocks", i, module, param] = parts.as_slice() else {
        return None;
    };
    let module = match *module {
        "conv1" => "cnn1",
        "conv2" => "cnn2",
        "norm1" => "batch_norm1",
        "norm2" => "batch_norm2",
        _ => return None,
    };
    let param = match *param {
        "gamma" => "weight",
        "beta" => "bias",
        p => p,
    };
    Some(format!("model.blks.{i}.{module}.{param}"))
}

/// Loads a `pydiffres.DiffRes` state dict into `layer`.
///
/// # Errors
/// [`ModelError::Weights`] naming the file: no importance-network tensor, or one of another
/// shape (a layer for another number of mel bins).
pub fn import(mut layer: DiffRes, ckpt: &Checkpoint) -> Result<Imported<DiffRes>> {
    let fail = |reason: String| weights_err(&ckpt.path, reason);
    let learnable = collect(&layer, false).contains_key("positions");
    let mut mapped = Vec::new();
    let mut unused = Vec::new();
    let mut notes = Vec::new();
    for (name, tensor) in &ckpt.tensors {
        let bare = name.strip_prefix("module.").unwrap_or(name);
        if bare == "pos_emb" {
            let shape = &tensor.shape;
            let [1, frames, mels] = shape[..] else {
                return Err(fail(format!("pos_emb has shape {shape:?}, not [1, T, F]")));
            };
            let table = tensor.clone().reshape(vec![frames, mels])?;
            if learnable {
                mapped.push(("positions".to_string(), table));
            } else {
                let basis = sinusoidal(frames, mels);
                let diff = table
                    .data
                    .iter()
                    .zip(&basis)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                if diff > SINUSOIDAL_TOLERANCE {
                    notes.push(format!(
                        "pos_emb was learned (it differs from the sinusoidal basis by up to {diff:.3}); this layer's resolution encoding is the fixed sinusoidal one, so it is not used"
                    ));
                    unused.push(name.clone());
                }
            }
            continue;
        }
        match to_burn(bare) {
            Some(ours) => mapped.push((ours, tensor.clone())),
            None => unused.push(name.clone()),
        }
    }
    let mut report = apply(&mut layer, mapped, false, &ckpt.path)?;
    report.unused.extend(unused);
    if !report.applied.iter().any(|a| a.starts_with("importance.")) {
        return Err(fail(
            "no tensor of the authors' importance network (model.blks.N.*) fits this DiffRes layer"
                .into(),
        ));
    }
    if let Some(first) = report.skipped.first() {
        return Err(fail(format!(
            "{} tensor(s) do not fit this DiffRes layer (a layer for another number of mel bins?), e.g. {first}",
            report.skipped.len()
        )));
    }
    if let Some(first) = report.missing.iter().find(|m| m.starts_with("importance.")) {
        return Err(fail(format!(
            "{} tensor(s) of this DiffRes layer are not in the file, e.g. {first}",
            report
                .missing
                .iter()
                .filter(|m| m.starts_with("importance."))
                .count()
        )));
    }
    Ok(Imported {
        module: layer,
        report,
        notes,
    })
}

/// A DiffRes layer's tensors under the authors' names, with `pos_emb [1, frames, F]` for
/// inputs of `frames` frames (the authors' layer is built for one input length), and the names
/// of its batch norms' `num_batches_tracked` counters.
///
/// # Errors
/// [`ModelError::Config`] for a learnable encoding shorter than `frames`.
pub fn export(
    layer: &DiffRes,
    frames: usize,
) -> Result<(BTreeMap<String, HostTensor>, Vec<String>)> {
    let mut out = BTreeMap::new();
    let mut counters = Vec::new();
    let mut mels = 0;
    let mut positions = None;
    for (name, tensor) in collect(layer, false) {
        if name == "positions" {
            positions = Some(tensor);
            continue;
        }
        let torch = to_torch(&name).ok_or_else(|| {
            ModelError::Config(format!("tensor {name} has no name in the authors' layer"))
        })?;
        if name == "importance.blocks.0.conv1.weight" {
            mels = tensor.shape[1];
        }
        if let Some(bn) = torch.strip_suffix(".running_mean") {
            counters.push(format!("{bn}.num_batches_tracked"));
        }
        out.insert(torch, tensor);
    }
    let table = match positions {
        None => HostTensor::new(vec![frames, mels], sinusoidal(frames, mels))?,
        Some(table) if table.shape[0] >= frames => {
            let cols = table.shape[1];
            HostTensor::new(vec![frames, cols], table.data[..frames * cols].to_vec())?
        }
        Some(table) => {
            return Err(ModelError::Config(format!(
                "the learnable encoding has {} rows, fewer than the {frames} input frames",
                table.shape[0]
            )))
        }
    };
    let [rows, cols] = [table.shape[0], table.shape[1]];
    out.insert("pos_emb".into(), table.reshape(vec![1, rows, cols])?);
    Ok((out, counters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_both_ways() {
        for (torch, burn) in [
            (
                "model.blks.0.cnn1.weight",
                "importance.blocks.0.conv1.weight",
            ),
            ("model.blks.4.cnn2.bias", "importance.blocks.4.conv2.bias"),
            (
                "model.blks.1.batch_norm1.weight",
                "importance.blocks.1.norm1.gamma",
            ),
            (
                "model.blks.2.batch_norm2.bias",
                "importance.blocks.2.norm2.beta",
            ),
            (
                "model.blks.3.batch_norm2.running_mean",
                "importance.blocks.3.norm2.running_mean",
            ),
        ] {
            assert_eq!(to_burn(torch).as_deref(), Some(burn));
            assert_eq!(to_torch(burn).as_deref(), Some(torch));
        }
        assert_eq!(
            to_burn("model.blks.0.batch_norm1.num_batches_tracked"),
            None
        );
        assert_eq!(to_burn("model.in_blk_1.cnn1.weight"), None);
    }
}
