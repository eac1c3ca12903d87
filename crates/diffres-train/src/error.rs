//! The crate's error type.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong in training, evaluation, prediction and experiments.
#[derive(Debug, Error)]
pub enum TrainError {
    /// Loading the dataset failed.
    #[error(transparent)]
    Data(#[from] diffres_data::DataError),
    /// Audio decoding or feature extraction failed.
    #[error(transparent)]
    Audio(#[from] diffres_audio::AudioError),
    /// The front end rejected its input or configuration.
    #[error(transparent)]
    Layer(#[from] diffres::DiffResError),
    /// The classifier could not be built or loaded.
    #[error(transparent)]
    Model(#[from] diffres_models::ModelError),
    /// Writing a report or plot failed.
    #[error(transparent)]
    Report(#[from] diffres_report::ReportError),
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file is malformed.
    #[error("{path}: malformed JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// An option is out of range or inconsistent.
    #[error("invalid option: {0}")]
    Config(String),
    /// A run folder is missing, incomplete or from another version.
    #[error("run folder {path}: {reason}")]
    Run {
        /// The run folder.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// A checkpoint cannot be loaded.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Training diverged.
    #[error("training diverged: {0}")]
    Diverged(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, TrainError>;

/// Attaches a path to an I/O error.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.into();
    move |source| TrainError::Io { path, source }
}
