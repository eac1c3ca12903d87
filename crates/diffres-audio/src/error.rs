//! Error type of the crate.
//!
//! Every error that concerns a file names the file and the reason, so that a batch job can
//! report exactly which input was bad.

use std::path::PathBuf;

/// Errors returned by decoding, resampling, log-mel extraction and the feature cache.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read (missing file, permission denied, ...).
    #[error("{}: cannot read file: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The path exists but is not a regular file (for example a directory).
    #[error("{}: not a regular file (is it a directory?)", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The container format was not recognised or the data is corrupt or truncated.
    #[error("{}: cannot decode audio: {reason}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The container was recognised but its codec is not supported.
    #[error("{}: unsupported codec: {reason}", path.display())]
    UnsupportedCodec {
        /// The file.
        path: PathBuf,
        /// Which codec or feature is missing.
        reason: String,
    },
    /// The file decoded to zero samples.
    #[error("{}: audio has zero length", path.display())]
    EmptyAudio {
        /// The file.
        path: PathBuf,
    },
    /// The file contains NaN or infinite samples.
    #[error("{}: non-finite sample (NaN or inf) at index {index}", path.display())]
    NonFiniteFile {
        /// The file.
        path: PathBuf,
        /// Index of the first non-finite sample (after downmix to mono).
        index: usize,
    },
    /// A sample buffer passed directly (not from a file) is empty.
    #[error("empty signal: at least one sample is needed")]
    EmptySignal,
    /// A sample buffer passed directly (not from a file) contains NaN or infinite samples.
    #[error("non-finite sample (NaN or inf) at index {index}")]
    NonFinite {
        /// Index of the first non-finite sample.
        index: usize,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The resampler could not be built or failed.
    #[error("resampling failed: {0}")]
    Resample(String),
    /// The feature cache could not be written.
    #[error("{}: feature cache error: {reason}", path.display())]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl AudioError {
    /// Attach a file path to an error raised on a sample buffer (`EmptySignal`, `NonFinite`),
    /// so that batch errors always name the file. Other errors are returned unchanged.
    pub fn with_path(self, path: &std::path::Path) -> Self {
        match self {
            AudioError::EmptySignal => AudioError::EmptyAudio {
                path: path.to_path_buf(),
            },
            AudioError::NonFinite { index } => AudioError::NonFiniteFile {
                path: path.to_path_buf(),
                index,
            },
            other => other,
        }
    }
}

/// Result type of the crate.
pub type Result<T> = std::result::Result<T, AudioError>;
