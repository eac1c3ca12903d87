//! The crate's error type.

use thiserror::Error;

/// Errors from building or loading a classifier.
#[derive(Debug, Error)]
pub enum ModelError {
    /// An unknown classifier name.
    #[error("unknown model '{0}': expected one of cnn, efficientnet-b0, efficientnet-b2")]
    UnknownModel(String),
    /// An invalid setting.
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// Weights could not be loaded.
    #[error("cannot load weights from {path}: {reason}")]
    Weights {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Weights could not be saved.
    #[error("cannot save weights to {path}: {reason}")]
    WeightsSave {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, ModelError>;
