//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while discovering a dataset or writing the synthetic one.
///
/// Every variant names the path (and, for CSV files, the line) it is about.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The dataset path does not exist.
    #[error("dataset path {path} does not exist")]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// An I/O error while reading or writing `path`.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The path exists but its layout matches none of the supported formats (or not the one requested).
    #[error("{path} is not a {expected} dataset: {reason}")]
    NotADataset {
        /// The path given.
        path: PathBuf,
        /// What was expected (a format name, or "supported" for auto-detection).
        expected: String,
        /// What was looked for and not found.
        reason: String,
    },
    /// A class folder contains no audio files.
    #[error("class folder {path} (class '{class}') contains no audio files (wav, flac, ogg, mp3)")]
    EmptyClass {
        /// The class name.
        class: String,
        /// The class folder.
        path: PathBuf,
    },
    /// A CSV file lacks a required column.
    #[error("{csv}: missing column {column} (found columns: {found})")]
    CsvMissingColumn {
        /// The CSV file.
        csv: PathBuf,
        /// The column (or alternatives) that was required.
        column: String,
        /// The columns actually present, comma-separated.
        found: String,
    },
    /// A `split` value in a CSV manifest is not train/val/test (or an accepted alias).
    #[error("{csv}, line {line}: bad split value '{value}' (expected train, val or test; also accepted: training, validation, valid, dev, eval, testing)")]
    CsvBadSplit {
        /// The CSV file.
        csv: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// The offending value.
        value: String,
    },
    /// A CSV row has an empty label.
    #[error("{csv}, line {line}: row has an empty label")]
    CsvEmptyLabel {
        /// The CSV file.
        csv: PathBuf,
        /// The 1-based line number.
        line: u64,
    },
    /// A CSV row is malformed in some other way (empty path, unparsable fold, ...).
    #[error("{csv}, line {line}: {reason}")]
    CsvBadRow {
        /// The CSV file.
        csv: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A file referenced by a CSV/metadata row does not exist.
    #[error("{csv}, line {line}: referenced audio file {path} does not exist")]
    MissingFile {
        /// The CSV or metadata file.
        csv: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// The missing file (resolved path).
        path: PathBuf,
    },
    /// The CSV parser failed (malformed quoting, wrong number of fields, bad UTF-8, ...).
    #[error("CSV error in {path}: {source}")]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: csv::Error,
    },
    /// The layout was recognised but no audio clips were found.
    #[error("no audio clips found in {path}")]
    NoClips {
        /// The dataset path.
        path: PathBuf,
    },
    /// A fraction option is outside its valid range.
    #[error("{name} = {value} is out of range: each fraction must be in [0, 1) and val_fraction + test_fraction < 1")]
    FractionOutOfRange {
        /// The option name (`val_fraction` or `test_fraction`).
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The requested cross-validation fold does not exist.
    #[error("fold {fold} is out of range for {path}: available folds are {available:?}")]
    FoldOutOfRange {
        /// The fold requested.
        fold: u32,
        /// The dataset path.
        path: PathBuf,
        /// The folds present in the metadata.
        available: Vec<u32>,
    },
    /// Unknown format name given to [`crate::Format::from_str`](std::str::FromStr).
    #[error("unknown dataset format '{0}' (expected one of: auto, folders, csv, esc50, speech-commands, fsdd)")]
    UnknownFormat(String),
    /// Unknown split name given to [`crate::Split::from_str`](std::str::FromStr).
    #[error("unknown split '{0}' (expected train, val or test)")]
    UnknownSplit(String),
    /// WAV writing failed.
    #[error("WAV error on {path}: {source}")]
    Wav {
        /// The WAV file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: hound::Error,
    },
    /// JSON (de)serialisation failed.
    #[error("JSON error on {path}: {source}")]
    Json {
        /// The JSON file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// An invalid synthetic-dataset configuration.
    #[error("invalid synthetic dataset config: {0}")]
    InvalidConfig(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, DataError>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DataError {
    let path = path.into();
    move |source| DataError::Io { path, source }
}
