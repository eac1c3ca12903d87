//! Reading each dataset layout: format detection ([`detect_format`]), dispatch to the
//! layout's loader ([`load_layout`]), and the helpers every loader shares. One file per layout:
//! `folders.rs`, `csv.rs`, `esc50.rs`, `speech_commands.rs`, `fsdd.rs`, `audioset.rs`,
//! `fsd50k.rs`, `nsynth.rs`; `class_index.rs` reads the official class indices of AudioSet and
//! FSD50K.
//!
//! A loader returns the layout's own clips and splits; the rules of [`crate::load_dataset`]
//! (two classes, a validation split, warnings) are applied afterwards by [`crate::checks`].

mod audioset;
mod class_index;
mod csv;
mod esc50;
mod folders;
mod fsd50k;
mod fsdd;
mod nsynth;
mod speech_commands;

use std::path::Path;

use crate::discovery::{
    file_name_str, has_audio_recursive, has_extension, subdirs, top_level_audio,
};
use crate::error::{DataError, Result};
use crate::splits::check_fractions;
use crate::{Dataset, Format, LoadOptions};

pub use audioset::{audioset_file_id, audioset_which_set, is_youtube_id};
pub use esc50::{esc50_cross_validation, esc50_folds};
pub use nsynth::NSYNTH_FAMILIES;
pub use speech_commands::{speech_commands_percentage, speech_commands_which_set};

/// The layout's own clips and splits, before the checks of [`crate::load_dataset`]: checks the
/// fractions, detects the format if it is [`Format::Auto`], runs that format's loader and
/// rejects a dataset without clips.
pub(crate) fn load_layout(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    check_fractions(opts.val_fraction, opts.test_fraction)?;
    if !path.exists() {
        return Err(DataError::NotFound {
            path: path.to_path_buf(),
        });
    }
    let format = match opts.format {
        Format::Auto => detect_format(path)?,
        f => f,
    };
    let ds = match format {
        Format::Auto => unreachable!("detect_format never returns Auto"),
        Format::Folders => folders::load_folders(path, opts)?,
        Format::Csv => csv::load_csv_path(path, opts)?,
        Format::Esc50 => esc50::load_esc50(path, opts)?,
        Format::SpeechCommands => speech_commands::load_speech_commands(path, opts)?,
        Format::Fsdd => fsdd::load_fsdd(path, opts)?,
        Format::AudioSet => audioset::load_audioset(path, opts)?,
        Format::Fsd50k => fsd50k::load_fsd50k(path, opts)?,
        Format::NSynth => nsynth::load_nsynth(path, opts)?,
    };
    if ds.clips.is_empty() {
        return Err(DataError::NoClips {
            path: path.to_path_buf(),
        });
    }
    Ok(ds)
}

/// Detect the layout of `path` (see the crate docs for the order of the checks):
/// `meta/esc50.csv` (or that file itself) -> ESC-50; `validation_list.txt`, `testing_list.txt` or
/// `_background_noise_` -> Speech Commands; a `.csv` file, or a folder with `manifest.csv` or a
/// single top-level `*.csv` -> CSV; `class_labels_indices.csv` and a `*_segments.csv` list ->
/// AudioSet; `FSD50K.ground_truth/dev.csv` or `eval.csv` -> FSD50K; `examples.json`, or a
/// `nsynth-train`/`nsynth-valid`/`nsynth-test` folder holding one -> NSynth; top-level audio
/// files that all match the FSDD naming -> FSDD; subfolders containing audio -> folders;
/// otherwise an error saying what was looked for. The three paper layouts come after CSV, so
/// every folder detected before they were added is detected the same way (AudioSet has at least
/// two top-level `.csv` files and no `manifest.csv`; FSD50K and NSynth have none).
pub fn detect_format(path: &Path) -> Result<Format> {
    if !path.exists() {
        return Err(DataError::NotFound {
            path: path.to_path_buf(),
        });
    }
    if path.is_file() {
        let is_esc50_meta = file_name_str(path) == "esc50.csv"
            && path
                .parent()
                .is_some_and(|m| file_name_str(m) == "meta" && m.parent().is_some());
        if is_esc50_meta {
            return Ok(Format::Esc50);
        }
        return if has_extension(path, "csv") {
            Ok(Format::Csv)
        } else {
            Err(not_a(
                path,
                "supported",
                "it is a file but not a .csv manifest (pass a dataset folder or a .csv file)",
            ))
        };
    }
    if path.join("meta").join("esc50.csv").is_file() {
        return Ok(Format::Esc50);
    }
    if path.join("validation_list.txt").is_file()
        || path.join("testing_list.txt").is_file()
        || path.join("_background_noise_").is_dir()
    {
        return Ok(Format::SpeechCommands);
    }
    let manifest = csv::find_manifest(path)?;
    if manifest.is_ok() {
        return Ok(Format::Csv);
    }
    if audioset::is_audioset(path) {
        return Ok(Format::AudioSet);
    }
    if fsd50k::is_fsd50k(path) {
        return Ok(Format::Fsd50k);
    }
    if nsynth::is_nsynth(path) {
        return Ok(Format::NSynth);
    }
    let top = top_level_audio(path)?;
    if !top.is_empty() && top.iter().all(|p| fsdd::parse_fsdd_name(p).is_some()) {
        return Ok(Format::Fsdd);
    }
    if subdirs(path)?.iter().any(|d| has_audio_recursive(d)) {
        return Ok(Format::Folders);
    }
    let mut reason = String::from(
        "found no meta/esc50.csv, no validation_list.txt/testing_list.txt/_background_noise_, \
         no manifest.csv or single *.csv, no class_labels_indices.csv with a *_segments.csv \
         list (AudioSet), no FSD50K.ground_truth/dev.csv or eval.csv, no examples.json or \
         nsynth-train/-valid/-test folder (NSynth), no FSDD-named audio files and no class \
         subfolders containing audio (wav, flac, ogg, mp3)",
    );
    if let Err(n) = manifest {
        if n > 1 {
            reason.push_str(&format!(
                "; there are {n} top-level .csv files and none is called manifest.csv \
                 (pass the manifest's path directly)"
            ));
        }
    }
    Err(not_a(path, "supported", reason))
}

/// The dataset name: a file's stem (but the folder's name for a generic `manifest.csv` or
/// `esc50.csv`), else the folder's name.
pub(super) fn dataset_name(path: &Path) -> String {
    if path.is_file() {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        match stem.as_deref() {
            Some("manifest") | Some("esc50") | None => {
                if let Some(parent) = path.parent() {
                    let parent = if parent.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        parent
                    };
                    return dataset_name(parent);
                }
            }
            Some(s) => return s.to_string(),
        }
    }
    path.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "dataset".to_string())
}

/// [`DataError::NotADataset`]: `path` is not an `expected` dataset, because `reason`.
pub(super) fn not_a(path: &Path, expected: &str, reason: impl Into<String>) -> DataError {
    DataError::NotADataset {
        path: path.to_path_buf(),
        expected: expected.to_string(),
        reason: reason.into(),
    }
}
