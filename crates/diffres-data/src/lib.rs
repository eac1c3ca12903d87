//! # diffres-data
//!
//! Dataset discovery for the `diffres` toolkit: file lists, labels and train/val/test splits for
//! the common audio-classification layouts, plus a seeded synthetic sound-event dataset
//! ([`synth`]) whose classes include pairs that differ only in fine timing (the situation where
//! DiffRes' learned temporal resolution should beat uniform pooling).
//!
//! No audio is decoded here: a [`Dataset`] is a list of [`Clip`]s (path, class indices, split).
//!
//! [`load_dataset`] also enforces what an honest train/val/test protocol needs (see
//! [`load_dataset`] for the exact rules): at least two classes, a validation split that never
//! comes from the test split (carved from the training clips where the layout has none), and
//! [`Dataset::warnings`] for duplicate rows and files that appear in two splits.
//!
//! Class order: alphabetical, except for layouts with an official class index (AudioSet,
//! FSD50K), whose index order is kept (see [`Dataset::classes`]).
//!
//! Supported layouts ([`Format`], auto-detected by [`load_dataset`] in this order):
//!
//! | format | layout | split |
//! |---|---|---|
//! | [`Format::Esc50`] | `meta/esc50.csv` + `audio/` | test = fold K (default 1); val = seeded stratified `val_fraction` of the other folds |
//! | [`Format::SpeechCommands`] | one folder per word; `validation_list.txt`, `testing_list.txt`, `_background_noise_` | the lists, else TensorFlow's hash-of-speaker rule ([`speech_commands_which_set`]) |
//! | [`Format::Csv`] | a `.csv` file, or a folder with `manifest.csv` (or exactly one `*.csv`) | `split` column, else seeded stratified |
//! | [`Format::AudioSet`] | `class_labels_indices.csv` + `balanced_train_segments.csv` / `unbalanced_train_segments.csv` / `eval_segments.csv`; audio anywhere below, named by YouTube id | train = the train lists, test = eval; val = `val_fraction` of train by a seeded hash of the id ([`audioset_which_set`]); missing audio counted in warnings |
//! | [`Format::Fsd50k`] | `FSD50K.ground_truth/{dev,eval,vocabulary}.csv`, `FSD50K.dev_audio/`, `FSD50K.eval_audio/` | dev's `split` column (train/val), test = eval |
//! | [`Format::NSynth`] | `nsynth-{train,valid,test}/` (or one of them), each `examples.json` + `audio/` | the folder; task: `instrument_family_str` (11 classes) |
//! | [`Format::Fsdd`] | `{digit}_{speaker}_{index}.(wav\|flac)` in one folder | index 0-4 test, 5-49 train; val = seeded stratified `val_fraction` of train |
//! | [`Format::Folders`] | one subfolder per class | seeded stratified `val_fraction` / `test_fraction` |
//!
//! ```no_run
//! use diffres_data::{load_dataset, LoadOptions, Split};
//! use std::path::Path;
//!
//! let ds = load_dataset(Path::new("data/speech_commands"), &LoadOptions::default())?;
//! println!("{}", ds.summary());
//! for clip in ds.split(Split::Train) {
//!     println!("{} -> {:?}", clip.path.display(), clip.labels);
//! }
//! # Ok::<(), diffres_data::DataError>(())
//! ```
//!
//! A synthetic dataset that loads with the same API:
//!
//! ```no_run
//! use diffres_data::{load_dataset, synth, LoadOptions};
//! let cfg = synth::SynthConfig { clips_per_class: 100, ..Default::default() };
//! let manifest = synth::write_dataset(std::path::Path::new("/tmp/synth"), &cfg)?;
//! let ds = load_dataset(&manifest, &LoadOptions::default())?;
//! assert_eq!(ds.classes.len(), synth::class_names().len());
//! # Ok::<(), diffres_data::DataError>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod checks;
mod discovery;
mod error;
mod loaders;
mod seeds;
mod splits;
pub mod synth;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use discovery::{is_audio_file, AUDIO_EXTENSIONS};
pub use error::{DataError, Result};
pub use loaders::{
    audioset_file_id, audioset_which_set, detect_format, esc50_cross_validation, esc50_folds,
    is_youtube_id, speech_commands_percentage, speech_commands_which_set, NSYNTH_FAMILIES,
};
pub use seeds::derive_seed;
pub use splits::{split_counts, stratified_split};

/// A dataset partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Split {
    /// Training set.
    Train,
    /// Validation set (model selection).
    Val,
    /// Held-out test set.
    Test,
}

impl Split {
    /// All splits in order train, val, test.
    pub const ALL: [Split; 3] = [Split::Train, Split::Val, Split::Test];

    /// Lower-case name: `train`, `val` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Split {
    type Err = DataError;
    /// Case-insensitive; accepts `train`/`training`, `val`/`validation`/`valid`/`dev`/`eval`,
    /// `test`/`testing`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" | "training" => Ok(Split::Train),
            "val" | "validation" | "valid" | "dev" | "eval" => Ok(Split::Val),
            "test" | "testing" => Ok(Split::Test),
            _ => Err(DataError::UnknownSplit(s.to_string())),
        }
    }
}

/// One audio clip of a dataset.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Clip {
    /// Path of the audio file (the dataset path joined with the relative path).
    pub path: PathBuf,
    /// Class indices into [`Dataset::classes`]; exactly one for single-label datasets, at least
    /// one for multi-label ones (the first is the one used for stratification).
    pub labels: Vec<usize>,
    /// The partition this clip belongs to.
    pub split: Split,
}

impl Clip {
    /// The first (for single-label datasets: the only) class index.
    pub fn label(&self) -> usize {
        self.labels[0]
    }
}

/// A dataset layout. Serialised with its canonical name ([`Format::as_str`]); the Rust variant
/// names written by older versions are still read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    /// Detect from the layout (see [`detect_format`]).
    #[serde(rename = "auto", alias = "Auto")]
    Auto,
    /// One subfolder per class.
    #[serde(rename = "folders", alias = "Folders")]
    Folders,
    /// A CSV manifest (`path,label[s][,split]`).
    #[serde(rename = "csv", alias = "Csv")]
    Csv,
    /// ESC-50 (`meta/esc50.csv`, `audio/`).
    #[serde(rename = "esc50", alias = "Esc50")]
    Esc50,
    /// Google Speech Commands (folder per word, `validation_list.txt`, `testing_list.txt`).
    #[serde(rename = "speech-commands", alias = "SpeechCommands")]
    SpeechCommands,
    /// Free Spoken Digit Dataset (`{digit}_{speaker}_{index}.wav|flac`).
    #[serde(rename = "fsdd", alias = "Fsdd")]
    Fsdd,
    /// AudioSet (`class_labels_indices.csv`, `*_segments.csv`, audio named by YouTube id).
    #[serde(rename = "audioset", alias = "AudioSet")]
    AudioSet,
    /// FSD50K (`FSD50K.ground_truth/{dev,eval,vocabulary}.csv`, `FSD50K.{dev,eval}_audio/`).
    #[serde(rename = "fsd50k", alias = "Fsd50k")]
    Fsd50k,
    /// NSynth (`nsynth-{train,valid,test}/examples.json` + `audio/`), instrument-family task.
    #[serde(rename = "nsynth", alias = "NSynth")]
    NSynth,
}

impl Format {
    /// All formats, `Auto` first.
    pub const ALL: [Format; 9] = [
        Format::Auto,
        Format::Folders,
        Format::Csv,
        Format::Esc50,
        Format::SpeechCommands,
        Format::Fsdd,
        Format::AudioSet,
        Format::Fsd50k,
        Format::NSynth,
    ];

    /// Canonical name (as accepted by `FromStr`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Folders => "folders",
            Format::Csv => "csv",
            Format::Esc50 => "esc50",
            Format::SpeechCommands => "speech-commands",
            Format::Fsdd => "fsdd",
            Format::AudioSet => "audioset",
            Format::Fsd50k => "fsd50k",
            Format::NSynth => "nsynth",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = DataError;
    /// Case-insensitive canonical names; `_` and `-` are interchangeable, `esc-50`,
    /// `speechcommands`, `folder`, `audio-set` and `fsd-50k` are accepted too.
    fn from_str(s: &str) -> Result<Self> {
        let n = s.trim().to_ascii_lowercase().replace('_', "-");
        match n.as_str() {
            "auto" => Ok(Format::Auto),
            "folders" | "folder" => Ok(Format::Folders),
            "csv" | "manifest" => Ok(Format::Csv),
            "esc50" | "esc-50" => Ok(Format::Esc50),
            "speech-commands" | "speechcommands" => Ok(Format::SpeechCommands),
            "fsdd" => Ok(Format::Fsdd),
            "audioset" | "audio-set" => Ok(Format::AudioSet),
            "fsd50k" | "fsd-50k" => Ok(Format::Fsd50k),
            "nsynth" => Ok(Format::NSynth),
            _ => Err(DataError::UnknownFormat(s.to_string())),
        }
    }
}

/// Options for [`load_dataset`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadOptions {
    /// Layout to use; [`Format::Auto`] detects it.
    pub format: Format,
    /// Fraction of each class held out for validation where the format has no official
    /// validation set (folders, CSV without `split`, ESC-50, FSDD), of AudioSet's training
    /// lists (by a seeded hash of the YouTube id, see [`audioset_which_set`]), and of the
    /// training clips where a layout's own split has no validation clip. Must be in (0, 1) wherever it is used
    /// ([`DataError::ZeroValFraction`] otherwise). Default 0.1.
    pub val_fraction: f64,
    /// Fraction of each class held out for testing where the format has no official test set
    /// (folders, CSV without `split`). Default 0.1.
    pub test_fraction: f64,
    /// Seed of the split RNG. Default 0.
    pub seed: u64,
    /// ESC-50 test fold (1..=5); `None` means fold 1. Ignored by the other formats.
    pub fold: Option<u32>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            format: Format::Auto,
            val_fraction: 0.1,
            test_fraction: 0.1,
            seed: 0,
            fold: None,
        }
    }
}

/// A labelled dataset: class names and clips with their splits.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Dataset {
    /// Name (the dataset folder's or the CSV file's name).
    pub name: String,
    /// The concrete layout it was loaded from (never [`Format::Auto`]).
    pub format: Format,
    /// Class names; [`Clip::labels`] index into this. Sorted alphabetically, except where the
    /// layout has an official class index, whose order is kept so that class `i` here is the
    /// official class `i` (and published label indices and checkpoints line up): AudioSet
    /// (`class_labels_indices.csv`, ontology order, not alphabetical) and FSD50K
    /// (`vocabulary.csv`). NSynth's eleven instrument families ([`NSYNTH_FAMILIES`]) are
    /// both: alphabetical order is the official `instrument_family` order.
    pub classes: Vec<String>,
    /// Whether clips may carry several labels.
    pub multi_label: bool,
    /// All clips, in a deterministic order (sorted by path for folder layouts, file order for CSV
    /// and the AudioSet and FSD50K lists, `note_str` order within each NSynth split).
    pub clips: Vec<Clip>,
    /// What [`load_dataset`] did beyond the layout's own rules, for the record (e.g. "no
    /// validation split in the manifest: held out 12 of 120 training clips (10%, stratified,
    /// seed 42) for validation", "no test split: results will say so").
    #[serde(default)]
    pub notes: Vec<String>,
    /// Problems the user should see, with counts: duplicate rows, files in two splits.
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl Dataset {
    /// The clips of one split, in dataset order.
    pub fn split(&self, s: Split) -> Vec<&Clip> {
        self.clips.iter().filter(|c| c.split == s).collect()
    }

    /// Index of the class called `name`.
    pub fn class_index(&self, name: &str) -> Option<usize> {
        self.classes.iter().position(|c| c == name)
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// Number of clips of `s` carrying each class (a multi-label clip counts once per label).
    pub fn class_counts(&self, s: Split) -> Vec<usize> {
        let mut counts = vec![0usize; self.classes.len()];
        for c in self.clips.iter().filter(|c| c.split == s) {
            for &l in &c.labels {
                counts[l] += 1;
            }
        }
        counts
    }

    /// Number of clips in `s`.
    pub fn split_len(&self, s: Split) -> usize {
        self.clips.iter().filter(|c| c.split == s).count()
    }

    /// A short human-readable multi-line description: name, format, classes, split sizes, then
    /// one `note:` line per [`Dataset::notes`] entry and one `warning:` line per
    /// [`Dataset::warnings`] entry.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "dataset '{}' ({}, {}): {} classes, {} clips (train {}, val {}, test {})\n",
            self.name,
            self.format,
            if self.multi_label {
                "multi-label"
            } else {
                "single-label"
            },
            self.classes.len(),
            self.clips.len(),
            self.split_len(Split::Train),
            self.split_len(Split::Val),
            self.split_len(Split::Test),
        );
        let counts: Vec<Vec<usize>> = Split::ALL.iter().map(|&sp| self.class_counts(sp)).collect();
        let width = self
            .classes
            .iter()
            .map(|c| c.len())
            .max()
            .unwrap_or(5)
            .max(5);
        s.push_str(&format!(
            "  {:<width$} {:>7} {:>7} {:>7}\n",
            "class", "train", "val", "test"
        ));
        const MAX_ROWS: usize = 60;
        for (i, c) in self.classes.iter().enumerate().take(MAX_ROWS) {
            s.push_str(&format!(
                "  {:<width$} {:>7} {:>7} {:>7}\n",
                c, counts[0][i], counts[1][i], counts[2][i]
            ));
        }
        if self.classes.len() > MAX_ROWS {
            s.push_str(&format!(
                "  ... and {} more classes\n",
                self.classes.len() - MAX_ROWS
            ));
        }
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        s
    }
}

/// Load a dataset for training from `path` (a folder, or a `.csv` manifest) with `opts`.
///
/// With [`Format::Auto`] the layout is detected by [`detect_format`]. Splits are deterministic
/// for a given seed. See the crate docs and README for the exact rules of each format. On top
/// of the layout's rules:
///
/// * fewer than two classes is [`DataError::SingleClass`];
/// * a validation split always exists and never comes from the test split: where the layout's
///   split leaves it empty (a CSV `split` column with only train/test rows, Speech Commands
///   lists without validation files, or a `val_fraction` that rounds to no clip), a seeded
///   stratified `val_fraction` of the *training* clips (by first label, seed
///   [`LoadOptions::seed`]; at least one clip, every class keeping one training clip) becomes
///   the validation split, recorded in [`Dataset::notes`]. Rows of the same file move together.
///   A `val_fraction` of 0 is then [`DataError::ZeroValFraction`], a training split too small
///   to spare a clip [`DataError::TooFewTrainingClips`];
/// * an empty test split is allowed, with a note;
/// * duplicate rows (the same file, compared by canonical path, listed more than once) and files
///   in two splits are reported in [`Dataset::warnings`] with counts and up to five names. All
///   rows are kept: a repeated row may be deliberate oversampling, and silently dropping rows
///   would make the clip counts disagree with the manifest.
pub fn load_dataset(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let mut ds = loaders::load_layout(path, opts)?;
    checks::require_two_classes(path, &ds)?;
    checks::finish(path, opts, &mut ds, true)?;
    Ok(ds)
}

/// Load a dataset to *evaluate* a trained model on, e.g. a foreign manifest of a few classes of
/// the run: like [`load_dataset`] (same splits, notes and warnings) but without the training
/// rules: one class is allowed and no validation split is carved or required.
pub fn load_eval_dataset(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let mut ds = loaders::load_layout(path, opts)?;
    checks::finish(path, opts, &mut ds, false)?;
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_queries_multi_label() {
        let clip = |labels: Vec<usize>, split| Clip {
            path: PathBuf::from("x.wav"),
            labels,
            split,
        };
        let ds = Dataset {
            name: "t".into(),
            format: Format::Csv,
            classes: vec!["a".into(), "b".into(), "c".into()],
            multi_label: true,
            clips: vec![
                clip(vec![0, 2], Split::Train),
                clip(vec![2], Split::Train),
                clip(vec![1], Split::Val),
                clip(vec![0, 1, 2], Split::Test),
            ],
            notes: vec!["held out 1".into()],
            warnings: vec!["2 duplicate rows".into()],
        };
        assert_eq!(ds.class_counts(Split::Train), vec![1, 0, 2]);
        assert_eq!(ds.class_counts(Split::Val), vec![0, 1, 0]);
        assert_eq!(ds.class_counts(Split::Test), vec![1, 1, 1]);
        assert_eq!(ds.split(Split::Train).len(), 2);
        assert_eq!(ds.split_len(Split::Test), 1);
        assert_eq!(ds.class_index("c"), Some(2));
        assert_eq!(ds.num_classes(), 3);
        let s = ds.summary();
        assert!(
            s.contains("multi-label") && s.contains("train 2, val 1, test 1"),
            "{s}"
        );
        assert!(
            s.ends_with("note: held out 1\nwarning: 2 duplicate rows\n"),
            "{s}"
        );
    }
}
