//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while discovering a dataset or writing the synthetic one.
///
/// Every variant names the path (and, for CSV files, the line) it is about. Variants wrapping
/// another error keep it as [`std::error::Error::source`] and do not repeat its text in their
/// own message, so a caller printing the cause chain shows each cause once.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The dataset path does not exist.
    #[error("dataset path {path} does not exist")]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// An I/O error while reading or writing `path`.
    #[error("I/O error on {path}")]
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
    /// A label (a class id such as AudioSet's `/m/09x0r`, or a class name) in a metadata row is
    /// not listed in the dataset's class index.
    #[error("{csv}, line {line}: label '{label}' is not in the class index {index}")]
    UnknownLabel {
        /// The metadata file holding the row.
        csv: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// The label as written in the row.
        label: String,
        /// The class index it was looked up in (`class_labels_indices.csv`, `vocabulary.csv`).
        index: PathBuf,
    },
    /// An entry of a JSON metadata file (NSynth's `examples.json`) is unusable: an unknown
    /// class, a missing audio file, ...
    #[error("{path}, entry '{entry}': {reason}")]
    JsonBadEntry {
        /// The JSON file.
        path: PathBuf,
        /// The entry's key (for NSynth, the `note_str`).
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// None of the clips listed by a layout's metadata has an audio file (AudioSet, whose
    /// downloads are usually incomplete, otherwise only counts the missing files).
    #[error("{path}: none of the {listed} segments listed in {lists} has an audio file beneath it (looked for files named by YouTube id: ID, YID, ID_START or ID_START_END, e.g. --PJHxphWEs.wav, Y--PJHxphWEs.wav, --PJHxphWEs_30000.wav, --PJHxphWEs_30.000_40.000.wav, with extension wav, flac, ogg or mp3)")]
    NoListedAudio {
        /// The dataset folder searched.
        path: PathBuf,
        /// Number of listed segments.
        listed: usize,
        /// The metadata files, comma-separated.
        lists: String,
    },
    /// The CSV parser failed (malformed quoting, wrong number of fields, bad UTF-8, ...).
    #[error("CSV error in {path}")]
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
    /// A fraction option is outside its valid range. (A `val_fraction` of 0 passes this check
    /// but fails with [`DataError::ZeroValFraction`] wherever the fraction is needed.)
    #[error("{name} = {value} is out of range: each fraction must be in [0, 1) and val_fraction + test_fraction < 1")]
    FractionOutOfRange {
        /// The option name (`val_fraction` or `test_fraction`).
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The dataset has fewer than two classes: a classifier of one class is always right, so its
    /// accuracy would say nothing.
    #[error("{path}: only one class ('{class}') found; classification needs at least two classes (with a single class every prediction is correct, so accuracy would be 100% and meaningless)")]
    SingleClass {
        /// The dataset path.
        path: PathBuf,
        /// The one class found.
        class: String,
    },
    /// The dataset has no validation split of its own and `val_fraction` is 0.
    #[error("{path} has no validation split of its own and val_fraction is 0: model selection needs a validation split, which is never taken from the test split; use a val_fraction in (0, 1), e.g. 0.1")]
    ZeroValFraction {
        /// The dataset path.
        path: PathBuf,
    },
    /// The dataset has no validation split of its own and its training split is too small to
    /// hold one out (every class keeps at least one training clip).
    #[error("{path} has no validation split of its own and its training split ({train} clips) is too small to hold one out: every class keeps at least one training clip, so some class needs at least two; add validation rows to the dataset or more training clips")]
    TooFewTrainingClips {
        /// The dataset path.
        path: PathBuf,
        /// Number of training clips.
        train: usize,
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
    #[error("unknown dataset format '{0}' (expected one of: auto, folders, csv, esc50, speech-commands, fsdd, audioset, fsd50k, nsynth)")]
    UnknownFormat(String),
    /// Unknown split name given to [`crate::Split::from_str`](std::str::FromStr).
    #[error("unknown split '{0}' (expected train, val or test)")]
    UnknownSplit(String),
    /// WAV writing failed.
    #[error("WAV error on {path}")]
    Wav {
        /// The WAV file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: hound::Error,
    },
    /// JSON (de)serialisation failed.
    #[error("JSON error on {path}")]
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn display_does_not_repeat_the_source() {
        let cause = "No such file or directory (os error 2)";
        let e = DataError::Io {
            path: PathBuf::from("/data/x.wav"),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, cause),
        };
        assert_eq!(e.to_string(), "I/O error on /data/x.wav");
        // The cause is still reachable, exactly once, through the chain.
        assert_eq!(e.source().unwrap().to_string(), cause);
        let json = serde_json::from_str::<u32>("x").unwrap_err();
        let json_text = json.to_string();
        let e = DataError::Json {
            path: PathBuf::from("synth.json"),
            source: json,
        };
        assert!(!e.to_string().contains(&json_text), "{e}");
        assert_eq!(e.source().unwrap().to_string(), json_text);
        let e = DataError::Wav {
            path: PathBuf::from("a.wav"),
            source: hound::Error::FormatError("bad header"),
        };
        assert!(!e.to_string().contains("bad header"), "{e}");
        assert!(e.source().unwrap().to_string().contains("bad header"));
    }
}
