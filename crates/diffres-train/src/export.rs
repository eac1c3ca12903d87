//! `diffres export`: a trained run's model as PyTorch-named safetensors, for the PyTorch
//! reference architectures: the classifier under PSLA's `EffNetAttention` names and layouts
//! ([`diffres_models::psla::export`]), the DiffRes layer under `pydiffres.DiffRes`'s
//! ([`diffres_models::pydiffres::export`]), in one file. The header's metadata says how the
//! run was trained (`diffres.*` keys: classes, frames, mels, features, head, ...).
//!
//! Reading the file back with `--init` gives the same model ([`crate::init`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use diffres::{FrontEnd, ScoreNormalization};
use diffres_models::checkpoint::Checkpoint;
use diffres_models::{psla, pydiffres, ClassifierHead};

use crate::error::{Result, TrainError};
use crate::inference::LoadedRun;
use crate::run::tmp_path;

/// What [`export_run`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Exported {
    /// The file.
    pub out: PathBuf,
    /// Tensors written (`num_batches_tracked` counters included).
    pub tensors: usize,
    /// The classifier's PyTorch counterpart, if it has one.
    pub classifier: Option<String>,
    /// The front end's PyTorch counterpart, if it has one.
    pub frontend: Option<String>,
    /// What the user should know: parts not exported, or computed differently in PyTorch.
    pub notes: Vec<String>,
}

/// Writes `run`'s best model to `out` (safetensors, replacing any file there).
///
/// # Errors
/// A run with nothing PyTorch has a counterpart for (the compact CNN without a DiffRes front
/// end), or an unwritable file.
pub fn export_run(run: &LoadedRun, out: &Path) -> Result<Exported> {
    let cfg = &run.info.config;
    let mut tensors = BTreeMap::new();
    let mut counters = Vec::new();
    let mut notes = Vec::new();
    let mut classifier = None;
    let mut frontend = None;

    match psla::export(&run.model.classifier) {
        Ok((t, c)) => {
            tensors.extend(t);
            counters.extend(c);
            classifier = Some(format!(
                "PSLA EffNetAttention ({}, {} classes, {} attention heads)",
                cfg.model,
                run.info.classes.len(),
                run.model
                    .classifier
                    .efficientnet()
                    .map_or(0, |n| n.attention().heads())
            ));
            if cfg.head == ClassifierHead::Logits {
                notes.push(
                    "trained with the logits head: PSLA's EffNetAttention applies a sigmoid to its classification branch and pads statically, so it computes other outputs from these weights (train with --head psla for PSLA's)".into(),
                );
            }
        }
        Err(_) => notes.push(format!(
            "the {} classifier has no PyTorch reference architecture: not exported",
            cfg.model
        )),
    }
    if cfg.filterbank.is_learned() {
        notes.push(format!(
            "the learnable filterbank ({}) has no PyTorch reference layout here: not exported",
            cfg.filterbank.label()
        ));
    }
    // The frames DiffRes sees (after a learnable filterbank, the run's rows are samples).
    let frames = cfg.frames_of_rows(run.info.frames);
    match &run.model.frontend {
        FrontEnd::DiffRes(layer) => {
            let (t, c) = pydiffres::export(layer, frames)?;
            tensors.extend(t);
            counters.extend(c);
            frontend = Some(format!(
                "pydiffres DiffRes(in_t_dim={frames}, in_f_dim={}, dimension_reduction_rate={})",
                cfg.mels, cfg.reduction
            ));
            if cfg.score_norm != ScoreNormalization::Reference {
                notes.push(format!(
                    "the layer was trained with --score-norm {}; pydiffres normalises scores by its own rule (--score-norm reference), so its outputs differ slightly",
                    cfg.score_norm
                ));
            }
            if cfg.dilation != 1 {
                notes.push(format!(
                    "the layer's dilation growth is {}; pydiffres' DiffRes has dilation 1, so it computes other scores from these weights",
                    cfg.dilation
                ));
            }
            if ![40, 64, 128].contains(&cfg.mels) {
                notes.push(format!(
                    "pydiffres builds its importance network for 40, 64 or 128 mel bins only, not {}",
                    cfg.mels
                ));
            }
        }
        other if diffres::trainable_params(other) == 0 => {}
        other => notes.push(format!(
            "the {} front end has no PyTorch counterpart in pydiffres: not exported",
            other.kind()
        )),
    }
    if tensors.is_empty() {
        return Err(TrainError::Run {
            path: run.dir.root.clone(),
            reason: format!(
                "nothing to export: the {} classifier and the {} front end have no PyTorch reference architecture (export needs an EfficientNet classifier or a DiffRes front end)",
                cfg.model, cfg.frontend
            ),
        });
    }
    let metadata = metadata(run);
    let tmp = tmp_path(out);
    Checkpoint::write_safetensors(&tmp, &tensors, &counters, &metadata)?;
    std::fs::rename(&tmp, out).map_err(|source| TrainError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(Exported {
        out: out.to_path_buf(),
        tensors: tensors.len() + counters.len(),
        classifier,
        frontend,
        notes,
    })
}

/// The header metadata: how to rebuild the inputs and read the outputs.
fn metadata(run: &LoadedRun) -> BTreeMap<String, String> {
    let cfg = &run.info.config;
    let mut m = BTreeMap::new();
    m.insert("format".into(), "pt".into());
    let mut put = |k: &str, v: String| m.insert(format!("diffres.{k}"), v);
    put(
        "classes",
        serde_json::to_string(&run.info.classes).expect("strings"),
    );
    put("multi_label", run.info.multi_label.to_string());
    put("frames", run.info.frames.to_string());
    put("mels", cfg.mels.to_string());
    put("hop_ms", cfg.hop_ms.to_string());
    put("sample_rate", cfg.sample_rate.to_string());
    put("features", cfg.features.to_string());
    if let Some(n) = &cfg.normalize {
        put("normalize", n.to_string());
    }
    put("frontend", cfg.frontend.to_string());
    put("reduction", cfg.reduction.to_string());
    put("score_norm", cfg.score_norm.to_string());
    put("model", cfg.model.to_string());
    put("head", cfg.head.to_string());
    put("input_layout", "x [B, T, F]; PSLA's EffNetAttention takes it as is (it transposes to [B, 1, F, T]); the DiffRes layer takes [B, T, F] and its feature [B, 3, t, F] goes to the classifier transposed to [B, 3, F, t]".into());
    put("tool_version", env!("CARGO_PKG_VERSION").into());
    m
}
