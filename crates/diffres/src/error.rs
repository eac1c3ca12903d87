//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong when building or running a front end.
///
/// Each variant says what was wrong and with which value, so a command-line tool can print it
/// as a one-line message.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DiffResError {
    /// The dimension reduction rate is outside `[0, 1)`.
    #[error("dimension reduction rate delta = {0} is out of range: it must be in [0, 1)")]
    DeltaOutOfRange(f64),
    /// The requested reduction leaves no output frame.
    #[error("no output frame left: T = {frames} input frames with delta = {delta} gives t = {t} (t must be >= 1)")]
    NoOutputFrames {
        /// Input frames.
        frames: usize,
        /// Dimension reduction rate.
        delta: f64,
        /// Resulting output frames.
        t: usize,
    },
    /// An input tensor has the wrong shape.
    #[error("wrong input shape for {what}: expected {expected}, got {got:?}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// What was expected, in words.
        expected: String,
        /// The shape received.
        got: Vec<usize>,
    },
    /// The input holds NaN or infinite values.
    #[error("input spectrogram of sample {sample} holds NaN or infinite values")]
    NonFinite {
        /// Index of the offending sample in the batch.
        sample: usize,
    },
    /// A per-sample valid length is 0 or larger than the input.
    #[error("valid length {length} of sample {sample} is out of range 1..={frames}")]
    BadLength {
        /// Index of the sample.
        sample: usize,
        /// The given valid length.
        length: usize,
        /// Input frames.
        frames: usize,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An unknown front-end name.
    #[error("unknown front end '{0}': expected one of identity, diffres, avgpool, avgmaxpool, convavgpool, changehopsize")]
    UnknownFrontEnd(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, DiffResError>;
