//! `--init`: initialising a run's model from checkpoints, each recognised from its content.
//!
//! Each path, in order, is one of
//! - a run folder (its `checkpoints/best.bpk`) or one of its `.bpk` checkpoints: the whole
//!   model, front end and classifier, where names and shapes fit (a head for another class
//!   count or a front end of another kind keeps its fresh initialisation, and is said so);
//! - a PyTorch `.pth` (or a safetensors file with the same names) of PSLA's
//!   `EffNetAttention` or `efficientnet_pytorch`'s `EfficientNet`: the classifier
//!   ([`diffres_models::psla`]);
//! - a `pydiffres.DiffRes` state dict: the DiffRes front end ([`diffres_models::pydiffres`]);
//! - a classifier saved by [`diffres_models::save_weights`] (safetensors): the classifier;
//! - a file written by `diffres export`: the classifier and the front end it holds.
//!
//! What each one loaded, and what it left at its fresh initialisation, is reported as notes.

use std::path::{Path, PathBuf};

use diffres::FrontEnd;
use diffres_models::checkpoint::{apply, Checkpoint};
use diffres_models::{psla, pydiffres, CheckpointKind, LoadReport};

use crate::error::{Result, TrainError};
use crate::integrity::{unseal, Unsealed};
use crate::model::AudioModel;
use crate::reporter::Reporter;
use crate::run::RunDir;

fn init_err(path: &Path, reason: String) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    }
}

/// Reads a checkpoint of any kind `--init` accepts; a folder is a run folder.
///
/// # Errors
/// A missing or unreadable file, a run folder without `checkpoints/best.bpk`, a damaged
/// `.bpk` (checksum), each naming the file.
pub fn read_any(path: &Path) -> Result<Checkpoint> {
    let file: PathBuf = if path.is_dir() {
        let best = RunDir::new(path).best();
        if !best.is_file() {
            return Err(TrainError::Run {
                path: path.to_path_buf(),
                reason:
                    "has no checkpoints/best.bpk to initialise from (a run that finished no epoch?)"
                        .into(),
            });
        }
        best
    } else {
        path.to_path_buf()
    };
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        // The models crate names what is wrong (missing, a device, ...).
        Err(_) => return Ok(Checkpoint::read(&file)?),
    };
    match unseal(&bytes).map_err(|reason| init_err(&file, reason))? {
        Unsealed::Verified(payload) => Ok(Checkpoint::from_burnpack(&file, payload.to_vec())?),
        // A PyTorch or safetensors file, or a `.bpk` of run format 1 (no checksum).
        Unsealed::NoTrailer(_) => match Checkpoint::read(&file) {
            Ok(ckpt) => Ok(ckpt),
            Err(first) => Checkpoint::from_burnpack(&file, bytes).map_err(|_| first.into()),
        },
    }
}

/// Initialises `model` from each of `paths` in turn (see the [module docs](self)), reporting
/// one note per file and one per part left at its initialisation.
///
/// # Errors
/// An unreadable file, a file whose names this tool does not know, a layer checkpoint for a
/// model without a DiffRes front end, a classifier checkpoint that does not fit the
/// classifier (another EfficientNet variant, the compact CNN for PSLA weights), or a file of
/// which nothing fits.
pub fn initialise(
    mut model: AudioModel,
    paths: &[PathBuf],
    reporter: &dyn Reporter,
) -> Result<AudioModel> {
    for path in paths {
        let ckpt = read_any(path)?;
        let kinds = ckpt.kinds();
        if kinds.is_empty() {
            let names: Vec<&str> = ckpt.tensors.keys().take(3).map(String::as_str).collect();
            return Err(init_err(
                path,
                format!(
                    "holds no tensor names this tool knows (PSLA's effnet./attention., efficientnet_pytorch's _blocks., pydiffres' model.blks., or a diffres run's), e.g. {}",
                    names.join(", ")
                ),
            ));
        }
        for kind in kinds {
            model = match kind {
                CheckpointKind::RunModel => from_run(model, &ckpt, reporter)?,
                CheckpointKind::Classifier => {
                    let tensors = ckpt.tensors.clone().into_iter().collect();
                    let report = apply(&mut model.classifier, tensors, false, &ckpt.path)?;
                    summary(reporter, &ckpt.path, kind, "the classifier", &report, &[])?;
                    model
                }
                CheckpointKind::Psla | CheckpointKind::EfficientNet => {
                    let imported = psla::import(model.classifier, &ckpt)?;
                    model.classifier = imported.module;
                    let what = "the classifier";
                    summary(
                        reporter,
                        &ckpt.path,
                        kind,
                        what,
                        &imported.report,
                        &imported.notes,
                    )?;
                    model
                }
                CheckpointKind::PyDiffRes => {
                    let FrontEnd::DiffRes(layer) = model.frontend else {
                        return Err(init_err(
                            path,
                            format!(
                                "is a DiffRes layer (pydiffres), but the front end is {}: use --frontend diffres",
                                model.frontend.kind()
                            ),
                        ));
                    };
                    let imported = pydiffres::import(layer, &ckpt)?;
                    model.frontend = FrontEnd::DiffRes(imported.module);
                    let what = "the DiffRes front end";
                    summary(
                        reporter,
                        &ckpt.path,
                        kind,
                        what,
                        &imported.report,
                        &imported.notes,
                    )?;
                    model
                }
            };
        }
    }
    Ok(model)
}

/// A run's whole model, fine-tuning style: what fits loads, the rest is said.
fn from_run(
    mut model: AudioModel,
    ckpt: &Checkpoint,
    reporter: &dyn Reporter,
) -> Result<AudioModel> {
    let tensors = ckpt.tensors.clone().into_iter().collect();
    let report = apply(&mut model, tensors, false, &ckpt.path)?;
    let mut notes = Vec::new();
    let skipped: Vec<&str> = report
        .skipped
        .iter()
        .filter(|s| s.starts_with("classifier."))
        .map(|s| s.split(':').next().unwrap_or(s))
        .collect();
    let is_head = |s: &&str| s.contains(".attention.") || s.contains(".head.");
    let is_stem = |s: &&str| s.contains("conv_stem") || s.contains(".blocks.0.conv.");
    if skipped.iter().any(is_head) {
        notes.push(
            "the checkpoint's classifier head is for another class count: the head is re-initialised".into(),
        );
    }
    if skipped.iter().any(is_stem) {
        notes.push(
            "the checkpoint's first convolution takes other input channels (another front end): it is re-initialised".into(),
        );
    }
    if let Some(other) = skipped.iter().find(|s| !is_head(s) && !is_stem(s)) {
        notes.push(format!(
            "{other} has another shape: it keeps its fresh initialisation"
        ));
    }
    let frontend = model.frontend.kind();
    if report.missing.iter().any(|k| k.starts_with("frontend.")) {
        notes.push(format!(
            "the checkpoint has no {frontend} front end: the front end keeps its fresh initialisation"
        ));
    }
    if !report.applied.iter().any(|k| k.starts_with("classifier.")) {
        notes.push(format!(
            "the checkpoint's classifier is not a {}: the classifier keeps its fresh initialisation",
            model.classifier.kind()
        ));
    }
    summary(
        reporter,
        &ckpt.path,
        CheckpointKind::RunModel,
        "the model",
        &report,
        &notes,
    )?;
    Ok(model)
}

/// One note for the file, one per thing left at its initialisation; an error when nothing
/// loaded.
fn summary(
    reporter: &dyn Reporter,
    path: &Path,
    kind: CheckpointKind,
    what: &str,
    report: &LoadReport,
    notes: &[String],
) -> Result<()> {
    if report.applied.is_empty() {
        return Err(init_err(
            path,
            format!("{kind}, but none of its tensors fits {what} ({report})"),
        ));
    }
    reporter.note(&format!(
        "initialised {what} from {} ({kind}): {} tensors loaded, {} kept their initialisation",
        path.display(),
        report.applied.len(),
        report.skipped.len() + report.missing.len()
    ));
    for note in notes {
        reporter.note(&format!("{}: {note}", path.display()));
    }
    Ok(())
}
