//! Google Speech Commands: one folder per word; the split from `validation_list.txt` and
//! `testing_list.txt`, else TensorFlow's hash-of-speaker rule.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{dataset_name, not_a};
use crate::discovery::{audio_files_recursive, file_name_str, subdirs};
use crate::error::{io_err, DataError, Result};
use crate::{Clip, Dataset, Format, LoadOptions, Split};

/// TensorFlow's `MAX_NUM_WAVS_PER_CLASS`.
const SC_MAX_NUM_WAVS_PER_CLASS: u64 = (1 << 27) - 1;

/// TensorFlow's Speech Commands `which_set` percentage for a file: the speaker id (base name
/// with `_nohash_.*` removed) is hashed with SHA-1, and
/// `(int(sha1, 16) % 2**27) * (100 / (2**27 - 1))` is returned (in `[0, 100]`).
pub fn speech_commands_percentage(file: &str) -> f64 {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let name = match base.find("_nohash_") {
        Some(i) => &base[..i],
        None => base,
    };
    let hex = sha1_smol::Sha1::from(name.as_bytes()).digest().to_string();
    // 2**27 divides 16**7, so the residue only depends on the last 7 hex digits.
    let tail = u64::from_str_radix(&hex[hex.len() - 7..], 16).expect("hex digest");
    let residue = tail % (SC_MAX_NUM_WAVS_PER_CLASS + 1);
    residue as f64 * (100.0 / SC_MAX_NUM_WAVS_PER_CLASS as f64)
}

/// The official Speech Commands split of a file when no lists are given (validation 10%,
/// testing 10%): validation if the percentage is below 10, test if below 20, else train.
pub fn speech_commands_which_set(file: &str) -> Split {
    let p = speech_commands_percentage(file);
    if p < 10.0 {
        Split::Val
    } else if p < 20.0 {
        Split::Test
    } else {
        Split::Train
    }
}

/// The relative paths listed in `validation_list.txt` or `testing_list.txt` (`/`-separated,
/// without a leading `./`); `None` if the file does not exist.
fn read_list(path: &Path) -> Result<Option<HashSet<String>>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    Ok(Some(
        text.lines()
            .map(|l| l.trim().replace('\\', "/"))
            .map(|l| l.trim_start_matches("./").to_string())
            .filter(|l| !l.is_empty())
            .collect(),
    ))
}

/// Load Speech Commands: one class per word folder (folders starting with `_` skipped), split
/// by the lists if either exists, else by [`speech_commands_which_set`].
pub(super) fn load_speech_commands(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let _ = opts; // the split is fixed by the lists or the hash
    if !path.is_dir() {
        return Err(not_a(path, "speech-commands", "not a directory"));
    }
    let val_list = read_list(&path.join("validation_list.txt"))?;
    let test_list = read_list(&path.join("testing_list.txt"))?;
    let use_lists = val_list.is_some() || test_list.is_some();
    let val_list = val_list.unwrap_or_default();
    let test_list = test_list.unwrap_or_default();
    let dirs: Vec<PathBuf> = subdirs(path)?
        .into_iter()
        .filter(|d| !file_name_str(d).starts_with('_'))
        .collect();
    if dirs.is_empty() {
        return Err(not_a(path, "speech-commands", "no word folders found"));
    }
    let mut classes = Vec::new();
    let mut clips = Vec::new();
    for (ci, d) in dirs.iter().enumerate() {
        let class = file_name_str(d);
        let files = audio_files_recursive(d)?;
        if files.is_empty() {
            return Err(DataError::EmptyClass {
                class,
                path: d.clone(),
            });
        }
        for f in files {
            let rel = f
                .strip_prefix(path)
                .unwrap_or(&f)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let split = if use_lists {
                if val_list.contains(&rel) {
                    Split::Val
                } else if test_list.contains(&rel) {
                    Split::Test
                } else {
                    Split::Train
                }
            } else {
                speech_commands_which_set(&rel)
            };
            clips.push(Clip {
                path: f,
                labels: vec![ci],
                split,
            });
        }
        classes.push(class);
    }
    Ok(Dataset {
        name: dataset_name(path),
        format: Format::SpeechCommands,
        classes,
        multi_label: false,
        clips,
        notes: Vec::new(),
        warnings: Vec::new(),
    })
}
