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
    /// A learnable filterbank's error.
    #[error(transparent)]
    Filterbank(#[from] diffres_filterbanks::FilterbankError),
    /// Writing a report or plot failed.
    #[error(transparent)]
    Report(#[from] diffres_report::ReportError),
    /// A file or folder could not be read or written. The OS error is the
    /// [`source`](std::error::Error::source), not part of the message, so that a printed cause
    /// chain names it once.
    #[error("cannot read or write {}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file is malformed (the parser's message is the source).
    #[error("{}: malformed JSON", path.display())]
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

/// The error and each of its causes, joined with `": "`, each printed once.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, TrainError>;

/// Attaches a path to an I/O error.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.into();
    move |source| TrainError::Io { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_names_its_os_cause_once() {
        let source = std::fs::read("/nonexistent/diffres/x").unwrap_err();
        let os = source.to_string();
        let e = io_err("/nonexistent/diffres/x")(source);
        let chain = error_chain(&e);
        assert_eq!(chain.matches(&os).count(), 1, "{chain}");
        assert!(chain.contains("/nonexistent/diffres/x"), "{chain}");
        // Transparent wrappers forward both message and source: still once.
        let audio = TrainError::Audio(diffres_audio::AudioError::Io {
            path: "/nonexistent/a.wav".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
        let chain = error_chain(&audio);
        let os = std::io::Error::from(std::io::ErrorKind::NotFound).to_string();
        assert_eq!(chain.matches(&os).count(), 1, "{chain}");
    }
}
