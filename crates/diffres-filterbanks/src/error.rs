//! The crate's error type.

/// Everything that can go wrong building or running a filterbank.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum FilterbankError {
    /// A configuration value is out of range; `field` names the config field.
    #[error("invalid filterbank config: `{field}` {reason}")]
    Config {
        /// The offending config field.
        field: &'static str,
        /// What is wrong with it (the value and the allowed range).
        reason: String,
    },
    /// The waveform batch has an unusable shape.
    #[error("invalid filterbank input: {0}")]
    Input(String),
}

impl FilterbankError {
    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Config {
            field,
            reason: reason.into(),
        }
    }
}

/// `Result` with [`FilterbankError`].
pub type Result<T> = std::result::Result<T, FilterbankError>;
