//! PSLA's `EffNetAttention` and `efficientnet_pytorch`'s `EfficientNet`, into our
//! EfficientNet and back out.
//!
//! # Names
//! PSLA's classifier is `effnet` (an `efficientnet_pytorch` `EfficientNet` with `_fc`
//! removed) and `attention` (its `MHeadAttention`); `torch.nn.DataParallel` adds `module.`
//! in front, and ImageNet weights have the backbone's names bare, with `_fc` present. Each
//! name maps by dropping the leading underscores and renaming batch norm's `weight`/`bias`
//! to Burn's `gamma`/`beta`:
//!
//! ```text
//! effnet._conv_stem.weight            backbone.conv_stem.weight
//! effnet._bn0.weight                  backbone.bn0.gamma
//! effnet._blocks.3._se_reduce.bias    backbone.blocks.3.se_reduce.bias
//! effnet._bn1.running_var             backbone.bn1.running_var
//! attention.att.2.weight              attention.att.2.weight   [classes, C, 1, 1] <-> [C, classes]
//! attention.head_weight               attention.head_weight
//! ```
//! `num_batches_tracked` and the ImageNet classifier `_fc.*` have no counterpart and are
//! left out (written back as zeros by [`export`], so that PyTorch's strict `load_state_dict`
//! finds every key).
//!
//! # Orientation
//! PSLA feeds its network `[B, 1, F, T]`: frequency is the image height, time the width. Our
//! classifiers take `[B, C, t, F]`, time as height. Every convolution kernel is therefore
//! transposed (`[out, in, kh, kw] -> [out, in, kw, kh]`), which makes our network on
//! `[B, C, t, F]` compute exactly PSLA's on `[B, C, F, t]`, transposed: the kernels are square
//! and the static padding is the same on both axes, so nothing else changes. The 1x1
//! attention convolutions become [`burn::nn::Linear`] weights `[C, classes]`.
//!
//! For PSLA's outputs, build the classifier with [`crate::ClassifierHead::Psla`].

use std::collections::BTreeMap;

use crate::checkpoint::{apply, collect, Checkpoint, HostTensor, Imported};
use crate::efficientnet::EfficientNetVariant;
use crate::error::{ModelError, Result};
use crate::{Classifier, ClassifierKind};

/// How a tensor's values change between the two layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Same,
    /// A 2-D convolution kernel: height and width swap (an involution).
    Kernel,
    /// A 1x1 convolution `[K, C, 1, 1]` (PyTorch) against a linear weight `[C, K]` (Burn).
    Projection,
}

/// Burn's name and layout change of a PSLA / `efficientnet_pytorch` tensor name (without
/// `module.`), or `None` when it has no counterpart.
fn to_burn(name: &str) -> Option<(String, Layout)> {
    if let Some(rest) = name.strip_prefix("attention.") {
        let parts: Vec<&str> = rest.split('.').collect();
        return match parts.as_slice() {
            ["head_weight"] => Some((name.to_string(), Layout::Same)),
            [branch @ ("att" | "cla"), i, param @ ("weight" | "bias")] => {
                i.parse::<usize>().ok()?;
                let layout = if *param == "weight" {
                    Layout::Projection
                } else {
                    Layout::Same
                };
                Some((format!("attention.{branch}.{i}.{param}"), layout))
            }
            _ => None,
        };
    }
    let rest = name.strip_prefix("effnet.").unwrap_or(name);
    if !rest.starts_with('_') || rest.starts_with("_fc.") {
        return None;
    }
    let parts: Vec<&str> = rest.split('.').collect();
    let (param, modules) = parts.split_last()?;
    let modules: Vec<&str> = modules
        .iter()
        .map(|m| m.strip_prefix('_').unwrap_or(m))
        .collect();
    let module = modules.last()?;
    let (param, layout) = match *param {
        "weight" if module.starts_with("bn") => ("gamma", Layout::Same),
        "bias" if module.starts_with("bn") => ("beta", Layout::Same),
        "running_mean" | "running_var" | "bias" => (*param, Layout::Same),
        "weight" => ("weight", Layout::Kernel),
        _ => return None,
    };
    Some((format!("backbone.{}.{param}", modules.join(".")), layout))
}

/// PSLA's name of one of our classifier's tensors (named without the enum variant).
fn to_torch(name: &str) -> Option<(String, Layout)> {
    if name.starts_with("attention.") {
        let layout = if name.ends_with(".weight") {
            Layout::Projection
        } else {
            Layout::Same
        };
        return Some((name.to_string(), layout));
    }
    let rest = name.strip_prefix("backbone.")?;
    let parts: Vec<&str> = rest.split('.').collect();
    let (param, modules) = parts.split_last()?;
    let module = modules.last()?;
    let (param, layout) = match *param {
        "gamma" => ("weight", Layout::Same),
        "beta" => ("bias", Layout::Same),
        "weight" if !module.starts_with("bn") => ("weight", Layout::Kernel),
        other => (other, Layout::Same),
    };
    let modules: Vec<String> = modules
        .iter()
        .map(|m| {
            if m.parse::<usize>().is_ok() {
                m.to_string()
            } else {
                format!("_{m}")
            }
        })
        .collect();
    Some((format!("effnet.{}.{param}", modules.join(".")), layout))
}

fn to_burn_layout(t: &HostTensor, layout: Layout) -> Result<HostTensor> {
    Ok(match layout {
        Layout::Same => t.clone(),
        Layout::Kernel if t.shape.len() == 4 => t.transpose_last_two(),
        Layout::Kernel => t.clone(),
        Layout::Projection => {
            let [k, c] = [t.shape[0], t.shape.get(1).copied().unwrap_or(1)];
            t.clone().reshape(vec![k, c])?.transpose_last_two()
        }
    })
}

fn to_torch_layout(t: &HostTensor, layout: Layout) -> Result<HostTensor> {
    Ok(match layout {
        Layout::Same => t.clone(),
        Layout::Kernel if t.shape.len() == 4 => t.transpose_last_two(),
        Layout::Kernel => t.clone(),
        Layout::Projection => {
            let u = t.transpose_last_two();
            let (k, c) = (u.shape[0], u.shape[1]);
            u.reshape(vec![k, c, 1, 1])?
        }
    })
}

/// The EfficientNet variant a checkpoint's head convolution (`_conv_head.weight`) implies.
fn checkpoint_variant(ckpt: &Checkpoint) -> Option<EfficientNetVariant> {
    let head = ckpt.tensors.iter().find_map(|(name, t)| {
        name.ends_with("_conv_head.weight")
            .then(|| t.shape.first().copied())
            .flatten()
    })?;
    [EfficientNetVariant::B0, EfficientNetVariant::B2]
        .into_iter()
        .find(|v| v.head_channels() == head)
}

fn variant_of(kind: ClassifierKind) -> Option<EfficientNetVariant> {
    match kind {
        ClassifierKind::EfficientNetB0 => Some(EfficientNetVariant::B0),
        ClassifierKind::EfficientNetB2 => Some(EfficientNetVariant::B2),
        ClassifierKind::Cnn => None,
    }
}

fn kind_of(variant: EfficientNetVariant) -> ClassifierKind {
    match variant {
        EfficientNetVariant::B0 => ClassifierKind::EfficientNetB0,
        EfficientNetVariant::B2 => ClassifierKind::EfficientNetB2,
    }
}

/// Loads a PSLA `EffNetAttention` checkpoint (whole classifier) or `efficientnet_pytorch`
/// weights (backbone; `_fc` dropped) into an EfficientNet classifier of the same variant.
///
/// Partial by design, and said so in [`Imported::notes`]: a stem for other input channels
/// (ImageNet's 3 against 1-channel input, as `efficientnet_pytorch` makes a fresh stem for
/// `in_channels=1`), a head for another class count, or no head at all keeps its fresh
/// initialisation.
///
/// # Errors
/// [`ModelError::Weights`] naming the file: the compact CNN, another EfficientNet variant, a
/// backbone tensor of another shape, or nothing that matches.
pub fn import(mut classifier: Classifier, ckpt: &Checkpoint) -> Result<Imported<Classifier>> {
    let fail = |reason: String| crate::checkpoint::weights_err(&ckpt.path, reason);
    let kind = classifier.kind();
    let Some(variant) = variant_of(kind) else {
        return Err(fail(
            "PSLA and efficientnet_pytorch weights need an EfficientNet classifier (--model efficientnet-b0 or efficientnet-b2), not cnn".into(),
        ));
    };
    if let Some(found) = checkpoint_variant(ckpt) {
        if found != variant {
            return Err(fail(format!(
                "holds {} weights ({}-channel head), but the classifier is {kind}: use --model {}",
                kind_of(found),
                found.head_channels(),
                kind_of(found)
            )));
        }
    }
    let mut notes = Vec::new();
    let mut mapped = Vec::new();
    let mut unused = Vec::new();
    let mut fc = false;
    for (name, tensor) in &ckpt.tensors {
        let bare = name.strip_prefix("module.").unwrap_or(name);
        match to_burn(bare) {
            Some((burn_name, layout)) => mapped.push((burn_name, to_burn_layout(tensor, layout)?)),
            None if bare.starts_with("_fc.") || bare.starts_with("effnet._fc.") => fc = true,
            None => unused.push(name.clone()),
        }
    }
    if fc {
        notes.push("the ImageNet classifier (_fc) is dropped, as PSLA does".into());
    }
    let mut report = apply(&mut classifier, mapped, true, &ckpt.path)?;
    report.unused.extend(unused);
    if report.applied.is_empty() {
        return Err(fail(format!(
            "no tensor fits the {kind} classifier ({} skipped for their shape)",
            report.skipped.len()
        )));
    }
    let stem = "backbone.conv_stem.weight";
    let backbone_skips: Vec<&String> = report
        .skipped
        .iter()
        .filter(|s| s.starts_with("backbone.") && !s.starts_with(stem))
        .collect();
    if let Some(first) = backbone_skips.first() {
        return Err(fail(format!(
            "{} backbone tensor(s) do not fit the {kind} classifier, e.g. {first}",
            backbone_skips.len()
        )));
    }
    if let Some(skip) = report.skipped.iter().find(|s| s.starts_with(stem)) {
        let channels = classifier
            .efficientnet()
            .map_or(0, |n| n.backbone().in_channels());
        notes.push(format!(
            "the checkpoint's stem does not fit {channels}-channel input ({skip}): the stem is freshly initialised, as efficientnet_pytorch does for other in_channels"
        ));
    }
    let head_loaded = report
        .applied
        .iter()
        .any(|a| a.starts_with("attention.att."));
    let head_in_file = ckpt.tensors.keys().any(|k| k.contains("attention.att."));
    if !head_in_file {
        notes.push("the checkpoint has no attention head: the head is freshly initialised".into());
    } else if !head_loaded {
        let file_classes = ckpt
            .tensors
            .iter()
            .find(|(k, _)| k.contains("attention.att.0.weight"))
            .map_or(0, |(_, t)| t.shape[0]);
        notes.push(format!(
            "the checkpoint's head has {file_classes} classes, this model another number: the head is re-initialised"
        ));
    }
    Ok(Imported {
        module: classifier,
        report,
        notes,
    })
}

/// An EfficientNet classifier's tensors under PSLA's names and layout, and the names of its
/// batch norms' `num_batches_tracked` counters (for [`Checkpoint::write_safetensors`]).
///
/// # Errors
/// [`ModelError::Config`] for the compact CNN, which has no PyTorch counterpart.
pub fn export(classifier: &Classifier) -> Result<(BTreeMap<String, HostTensor>, Vec<String>)> {
    if classifier.efficientnet().is_none() {
        return Err(ModelError::Config(
            "the compact CNN has no PyTorch reference architecture: only EfficientNet classifiers export (PSLA naming)".into(),
        ));
    }
    let mut out = BTreeMap::new();
    let mut counters = Vec::new();
    for (name, tensor) in collect(classifier, true) {
        let (torch_name, layout) = to_torch(&name).ok_or_else(|| {
            ModelError::Config(format!("tensor {name} has no name in PSLA's model"))
        })?;
        if let Some(bn) = torch_name.strip_suffix(".running_mean") {
            counters.push(format!("{bn}.num_batches_tracked"));
        }
        out.insert(torch_name, to_torch_layout(&tensor, layout)?);
    }
    Ok((out, counters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_both_ways() {
        for (torch, burn) in [
            ("effnet._conv_stem.weight", "backbone.conv_stem.weight"),
            ("effnet._bn0.weight", "backbone.bn0.gamma"),
            ("effnet._bn0.bias", "backbone.bn0.beta"),
            (
                "effnet._blocks.3._se_reduce.bias",
                "backbone.blocks.3.se_reduce.bias",
            ),
            (
                "effnet._blocks.10._bn2.running_var",
                "backbone.blocks.10.bn2.running_var",
            ),
            ("effnet._bn1.running_mean", "backbone.bn1.running_mean"),
            ("attention.att.2.weight", "attention.att.2.weight"),
            ("attention.cla.0.bias", "attention.cla.0.bias"),
            ("attention.head_weight", "attention.head_weight"),
        ] {
            assert_eq!(
                to_burn(torch).map(|t| t.0).as_deref(),
                Some(burn),
                "{torch}"
            );
            assert_eq!(
                to_torch(burn).map(|t| t.0).as_deref(),
                Some(torch),
                "{burn}"
            );
        }
        // ImageNet names are the backbone's, bare; their classifier has no counterpart.
        assert_eq!(
            to_burn("_blocks.0._depthwise_conv.weight").unwrap().0,
            "backbone.blocks.0.depthwise_conv.weight"
        );
        assert_eq!(to_burn("_fc.weight"), None);
        assert_eq!(to_burn("effnet._bn0.num_batches_tracked"), None);
        assert_eq!(to_burn("attention.att.x.weight"), None);
    }

    #[test]
    fn layouts_round_trip() {
        let k = HostTensor::new(vec![2, 1, 3, 3], (0..18).map(|v| v as f32).collect()).unwrap();
        let b = to_burn_layout(&k, Layout::Kernel).unwrap();
        assert_eq!(b.data[1], 3.0); // [0, 0, 0, 1] of ours is [0, 0, 1, 0] of PyTorch's
        assert_eq!(to_torch_layout(&b, Layout::Kernel).unwrap(), k);
        let p = HostTensor::new(vec![3, 2, 1, 1], (0..6).map(|v| v as f32).collect()).unwrap();
        let l = to_burn_layout(&p, Layout::Projection).unwrap();
        assert_eq!(
            (l.shape.clone(), l.data.clone()),
            (vec![2, 3], vec![0.0, 2.0, 4.0, 1.0, 3.0, 5.0])
        );
        assert_eq!(to_torch_layout(&l, Layout::Projection).unwrap(), p);
    }
}
