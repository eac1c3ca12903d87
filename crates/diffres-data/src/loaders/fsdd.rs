//! Free Spoken Digit Dataset: `{digit}_{speaker}_{index}.(wav|flac)` in one folder; index 0-4
//! is the test split, validation is carved from the rest.

use std::path::Path;

use super::{dataset_name, not_a};
use crate::discovery::{is_audio_file, is_hidden, read_dir_sorted};
use crate::error::Result;
use crate::splits::{index_labels, val_from_non_test};
use crate::{Clip, Dataset, Format, LoadOptions};

/// Parse an FSDD file name `{digit}_{speaker}_{index}.(wav|flac)` into (digit, speaker, index).
pub(super) fn parse_fsdd_name(path: &Path) -> Option<(String, String, u32)> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if ext != "wav" && ext != "flac" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    let (digit, rest) = stem.split_once('_')?;
    let (speaker, index) = rest.rsplit_once('_')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(digit) || !all_digits(index) || speaker.is_empty() {
        return None;
    }
    Some((digit.to_string(), speaker.to_string(), index.parse().ok()?))
}

/// Load FSDD: index 0-4 test, the rest train, with a seeded stratified `val_fraction` of
/// train (by digit) as validation.
pub(super) fn load_fsdd(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    if !path.is_dir() {
        return Err(not_a(path, "fsdd", "not a directory"));
    }
    let mut rows = Vec::new();
    for f in read_dir_sorted(path)? {
        if !f.is_file() || !is_audio_file(&f) || is_hidden(&f) {
            continue;
        }
        match parse_fsdd_name(&f) {
            Some((digit, _speaker, index)) => rows.push((f, digit, index)),
            None => {
                return Err(not_a(
                    path,
                    "fsdd",
                    format!(
                        "file {} does not match {{digit}}_{{speaker}}_{{index}}.(wav|flac)",
                        f.display()
                    ),
                ))
            }
        }
    }
    let labels: Vec<Vec<String>> = rows.iter().map(|r| vec![r.1.clone()]).collect();
    let (classes, idx) = index_labels(&labels);
    let train: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].2 >= 5).collect();
    let first: Vec<usize> = idx.iter().map(|l| l[0]).collect();
    let splits = val_from_non_test(&train, &first, opts.val_fraction, opts.seed);
    let clips = rows
        .into_iter()
        .zip(idx)
        .zip(splits)
        .map(|((r, labels), split)| Clip {
            path: r.0,
            labels,
            split,
        })
        .collect();
    Ok(Dataset {
        name: dataset_name(path),
        format: Format::Fsdd,
        classes,
        multi_label: false,
        clips,
        notes: Vec::new(),
        warnings: Vec::new(),
    })
}
