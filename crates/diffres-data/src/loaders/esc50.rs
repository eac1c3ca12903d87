//! ESC-50: `meta/esc50.csv` + `audio/`; test = one fold, validation carved from the others.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::csv::{csv_reader, find_col, headers_of, line_of, missing_col};
use super::{dataset_name, not_a};
use crate::error::{DataError, Result};
use crate::splits::{index_labels, val_from_non_test};
use crate::{Clip, Dataset, Format, LoadOptions};

/// One row of `meta/esc50.csv`.
struct Esc50Row {
    path: PathBuf,
    fold: u32,
    category: String,
}

/// The dataset root: `path` itself, or two levels up from the metadata file.
fn esc50_root(path: &Path) -> PathBuf {
    // Accept the dataset root or the metadata file itself.
    if path.is_file() {
        if let Some(root) = path.parent().and_then(|m| m.parent()) {
            return if root.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                root.to_path_buf()
            };
        }
    }
    path.to_path_buf()
}

/// Reads and checks `meta/esc50.csv` (columns `filename`, `fold`, `category`; every file must
/// exist under `audio/`); returns the metadata path and the rows.
fn read_esc50(root: &Path) -> Result<(PathBuf, Vec<Esc50Row>)> {
    let meta = root.join("meta").join("esc50.csv");
    if !meta.is_file() {
        return Err(not_a(root, "esc50", "meta/esc50.csv not found"));
    }
    let mut rdr = csv_reader(&meta)?;
    let headers = headers_of(&mut rdr, &meta)?;
    let fcol = find_col(&headers, &["filename"])
        .ok_or_else(|| missing_col(&meta, "'filename'", &headers))?;
    let foldcol =
        find_col(&headers, &["fold"]).ok_or_else(|| missing_col(&meta, "'fold'", &headers))?;
    let ccol = find_col(&headers, &["category"])
        .ok_or_else(|| missing_col(&meta, "'category'", &headers))?;
    let audio = root.join("audio");
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|source| DataError::Csv {
            path: meta.clone(),
            source,
        })?;
        let line = line_of(&rec);
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        let fname = rec.get(fcol).unwrap_or("");
        if fname.is_empty() {
            return Err(DataError::CsvBadRow {
                csv: meta.clone(),
                line,
                reason: "empty filename".into(),
            });
        }
        let fold_s = rec.get(foldcol).unwrap_or("");
        let fold: u32 = fold_s.parse().map_err(|_| DataError::CsvBadRow {
            csv: meta.clone(),
            line,
            reason: format!("fold '{fold_s}' is not a positive integer"),
        })?;
        let category = rec.get(ccol).unwrap_or("").to_string();
        if category.is_empty() {
            return Err(DataError::CsvEmptyLabel {
                csv: meta.clone(),
                line,
            });
        }
        let path = audio.join(fname);
        if !path.is_file() {
            return Err(DataError::MissingFile {
                csv: meta.clone(),
                line,
                path,
            });
        }
        rows.push(Esc50Row {
            path,
            fold,
            category,
        });
    }
    Ok((meta, rows))
}

/// The folds listed in an ESC-50 dataset's `meta/esc50.csv` (sorted; `[1, 2, 3, 4, 5]` for the
/// real dataset). `path` is the dataset root (or the metadata file).
///
/// Five-fold cross-validation = load the dataset once per fold with
/// `LoadOptions { fold: Some(k), .. }` (or call [`esc50_cross_validation`]) and average the
/// test metrics.
pub fn esc50_folds(path: &Path) -> Result<Vec<u32>> {
    let root = esc50_root(path);
    let (_, rows) = read_esc50(&root)?;
    let folds: BTreeSet<u32> = rows.iter().map(|r| r.fold).collect();
    Ok(folds.into_iter().collect())
}

/// One [`Dataset`] per ESC-50 fold (fold `k` as the test set), for cross-validation. `opts.fold`
/// and `opts.format` are ignored.
pub fn esc50_cross_validation(path: &Path, opts: &LoadOptions) -> Result<Vec<Dataset>> {
    esc50_folds(path)?
        .into_iter()
        .map(|k| {
            let o = LoadOptions {
                format: Format::Esc50,
                fold: Some(k),
                ..opts.clone()
            };
            crate::load_dataset(path, &o)
        })
        .collect()
}

/// Load ESC-50 with fold `opts.fold` (default 1) as the test split and a seeded stratified
/// `val_fraction` of the other folds as validation.
pub(super) fn load_esc50(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let root = esc50_root(path);
    let (_, rows) = read_esc50(&root)?;
    let available: Vec<u32> = rows
        .iter()
        .map(|r| r.fold)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let fold = opts.fold.unwrap_or(1);
    // Any fold the metadata has (ESC-50 has 5; derived sets such as a 10-fold split work too).
    if !available.contains(&fold) {
        return Err(DataError::FoldOutOfRange {
            fold,
            path: root,
            available,
        });
    }
    let labels: Vec<Vec<String>> = rows.iter().map(|r| vec![r.category.clone()]).collect();
    let (classes, idx) = index_labels(&labels);
    // Validation: seeded, stratified val_fraction of the non-test folds.
    let rest: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].fold != fold).collect();
    let first: Vec<usize> = idx.iter().map(|l| l[0]).collect();
    let splits = val_from_non_test(&rest, &first, opts.val_fraction, opts.seed);
    let clips = rows
        .into_iter()
        .zip(idx)
        .zip(splits)
        .map(|((r, labels), split)| Clip {
            path: r.path,
            labels,
            split,
        })
        .collect();
    Ok(Dataset {
        name: dataset_name(&root),
        format: Format::Esc50,
        classes,
        multi_label: false,
        clips,
        notes: Vec::new(),
        warnings: Vec::new(),
    })
}
