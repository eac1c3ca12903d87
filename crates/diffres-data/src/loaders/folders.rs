//! One subfolder per class, audio files anywhere below it; seeded stratified split.

use std::path::{Path, PathBuf};

use super::{dataset_name, not_a};
use crate::discovery::{audio_files_recursive, file_name_str, subdirs};
use crate::error::{DataError, Result};
use crate::splits::stratified_split;
use crate::{Clip, Dataset, Format, LoadOptions};

/// Load a folder with one subfolder per class (searched recursively); seeded stratified
/// `val_fraction` / `test_fraction` split by class.
pub(super) fn load_folders(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    if !path.is_dir() {
        return Err(not_a(path, "folders", "not a directory"));
    }
    let dirs = subdirs(path)?;
    if dirs.is_empty() {
        return Err(not_a(path, "folders", "it has no class subfolders"));
    }
    let mut classes = Vec::new();
    let mut files: Vec<(PathBuf, usize)> = Vec::new();
    for (ci, d) in dirs.iter().enumerate() {
        let class = file_name_str(d);
        let audio = audio_files_recursive(d)?;
        if audio.is_empty() {
            return Err(DataError::EmptyClass {
                class,
                path: d.clone(),
            });
        }
        classes.push(class);
        files.extend(audio.into_iter().map(|p| (p, ci)));
    }
    let strata: Vec<usize> = files.iter().map(|f| f.1).collect();
    let splits = stratified_split(&strata, opts.val_fraction, opts.test_fraction, opts.seed);
    let clips = files
        .into_iter()
        .zip(splits)
        .map(|((path, c), split)| Clip {
            path,
            labels: vec![c],
            split,
        })
        .collect();
    Ok(Dataset {
        name: dataset_name(path),
        format: Format::Folders,
        classes,
        multi_label: false,
        clips,
        notes: Vec::new(),
        warnings: Vec::new(),
    })
}
