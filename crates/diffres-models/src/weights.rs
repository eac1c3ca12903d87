//! Saving and loading classifier weights as safetensors files (via `burn::store`).
//!
//! Tensor names are the module paths, enum variant included, e.g.
//! `EfficientNetB2.backbone.blocks.3.depthwise_conv.weight` or
//! `EfficientNetB2.attention.cla.0.bias`; batch-norm running statistics are saved too.
//!
//! Loading is partial by design, to initialise a model from another one's backbone:
//! - tensors whose name and shape match are loaded;
//! - tensors whose name matches but shape differs (a head for another number of classes, a
//!   stem for other input channels) are **skipped** and keep their initial values;
//! - model tensors absent from the file are **missing** and keep their initial values;
//! - file tensors the model does not have are **unused**.
//!
//! [`load_weights_with_report`] returns these lists as a [`LoadReport`]; [`load_weights`]
//! drops it. Loading fails with [`ModelError::Weights`] when the file is missing or not a
//! valid safetensors file, when a tensor cannot be read, or when no tensor at all matches
//! (e.g. B0 weights offered to a B2 classifier: the variant names differ).

use std::fmt;
use std::path::Path;

use burn::store::{ModuleSnapshot, SafetensorsStore};

use crate::error::{ModelError, Result};
use crate::Classifier;

/// What a partial load did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Tensors loaded.
    pub applied: Vec<String>,
    /// Tensors in both file and model with different shapes, as
    /// `"name: model [..], file [..]"`; the model keeps its initial values.
    pub skipped: Vec<String>,
    /// Model tensors not in the file; the model keeps its initial values.
    pub missing: Vec<String>,
    /// File tensors the model does not have.
    pub unused: Vec<String>,
}

impl LoadReport {
    /// Whether every model tensor was loaded.
    pub fn is_complete(&self) -> bool {
        self.skipped.is_empty() && self.missing.is_empty()
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loaded {} tensors, skipped {} (shape mismatch), {} missing from the file, {} unused",
            self.applied.len(),
            self.skipped.len(),
            self.missing.len(),
            self.unused.len()
        )?;
        for (label, list) in [
            ("skipped", &self.skipped),
            ("missing", &self.missing),
            ("unused", &self.unused),
        ] {
            if !list.is_empty() {
                let shown: Vec<&str> = list.iter().take(8).map(String::as_str).collect();
                let more = if list.len() > 8 {
                    format!(", ... ({} more)", list.len() - 8)
                } else {
                    String::new()
                };
                write!(f, "\n  {label}: {}{more}", shown.join(", "))?;
            }
        }
        Ok(())
    }
}

/// Writes all of the classifier's tensors (parameters and batch-norm statistics) to a
/// safetensors file, replacing any file already there.
///
/// # Errors
/// [`ModelError::WeightsSave`] when the file cannot be written.
pub fn save_weights(classifier: &Classifier, path: &Path) -> Result<()> {
    let mut store = SafetensorsStore::from_file(path).overwrite(true);
    classifier
        .save_into(&mut store)
        .map_err(|e| ModelError::WeightsSave {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

/// Loads weights from a safetensors file, partially where names or shapes differ (see the
/// module documentation), and drops the report.
///
/// # Errors
/// [`ModelError::Weights`] for a missing or corrupt file, an unreadable tensor, or a file none
/// of whose tensors matches the model.
pub fn load_weights(classifier: Classifier, path: &Path) -> Result<Classifier> {
    load_weights_with_report(classifier, path).map(|(model, _)| model)
}

/// Loads weights from a safetensors file and says what was loaded, skipped, missing and unused.
///
/// # Errors
/// As [`load_weights`].
pub fn load_weights_with_report(
    mut classifier: Classifier,
    path: &Path,
) -> Result<(Classifier, LoadReport)> {
    let error = |reason: String| ModelError::Weights {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Err(error("not a regular file".into())),
        Err(e) => return Err(error(e.to_string())),
    }
    let mut store = SafetensorsStore::from_file(path)
        .validate(false)
        .allow_partial(true);
    let result = classifier
        .load_from(&mut store)
        .map_err(|e| error(e.to_string()))?;
    let report = crate::checkpoint::report(result).map_err(error)?;
    if report.applied.is_empty() {
        let file: Vec<&str> = report.unused.iter().take(3).map(String::as_str).collect();
        let model: Vec<&str> = report.missing.iter().take(3).map(String::as_str).collect();
        return Err(error(format!(
            "no tensor matches the {} classifier ({} in the file, e.g. [{}]; the model expects e.g. [{}]; {} shape mismatches)",
            classifier.kind(),
            report.unused.len(),
            file.join(", "),
            model.join(", "),
            report.skipped.len()
        )));
    }
    Ok((classifier, report))
}
