//! A CSV manifest (`path,label[s][,split]`), plus the CSV reading helpers the ESC-50 metadata
//! uses too.

use std::path::{Path, PathBuf};

use super::{dataset_name, not_a};
use crate::discovery::{has_extension, read_dir_sorted};
use crate::error::{DataError, Result};
use crate::splits::{index_labels, stratified_split};
use crate::{Clip, Dataset, Format, LoadOptions, Split};

/// The manifest a folder would use as a CSV dataset: `manifest.csv` if present, else the only
/// top-level `*.csv`. `Ok(Err(n))` reports `n` ambiguous CSV files.
pub(super) fn find_manifest(dir: &Path) -> Result<std::result::Result<PathBuf, usize>> {
    let m = dir.join("manifest.csv");
    if m.is_file() {
        return Ok(Ok(m));
    }
    let csvs: Vec<PathBuf> = read_dir_sorted(dir)?
        .into_iter()
        .filter(|p| p.is_file() && has_extension(p, "csv"))
        .collect();
    match csvs.len() {
        1 => Ok(Ok(csvs.into_iter().next().expect("one csv"))),
        n => Ok(Err(n)),
    }
}

/// Load a CSV dataset from a `.csv` file or a folder holding its manifest (see
/// [`find_manifest`]); a folder gives the dataset its name.
pub(super) fn load_csv_path(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let csv_path = if path.is_dir() {
        match find_manifest(path)? {
            Ok(p) => p,
            Err(n) => {
                return Err(not_a(
                    path,
                    "csv",
                    format!(
                        "expected manifest.csv or exactly one top-level .csv file, found {n} .csv files"
                    ),
                ))
            }
        }
    } else {
        path.to_path_buf()
    };
    let mut ds = load_csv(&csv_path, opts)?;
    if path.is_dir() {
        ds.name = dataset_name(path);
    }
    Ok(ds)
}

/// A reader of `csv_path` with a header row and every field trimmed.
pub(super) fn csv_reader(csv_path: &Path) -> Result<::csv::Reader<std::fs::File>> {
    ::csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(::csv::Trim::All)
        .from_path(csv_path)
        .map_err(|source| DataError::Csv {
            path: csv_path.to_path_buf(),
            source,
        })
}

/// The header row, lower-cased, without a byte-order mark.
pub(super) fn headers_of(
    rdr: &mut ::csv::Reader<std::fs::File>,
    csv_path: &Path,
) -> Result<Vec<String>> {
    Ok(rdr
        .headers()
        .map_err(|source| DataError::Csv {
            path: csv_path.to_path_buf(),
            source,
        })?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect())
}

/// The index of the first of `names` found among the headers.
pub(super) fn find_col(headers: &[String], names: &[&str]) -> Option<usize> {
    names
        .iter()
        .find_map(|n| headers.iter().position(|h| h == n))
}

/// [`DataError::CsvMissingColumn`] naming `column` and the headers found.
pub(super) fn missing_col(csv: &Path, column: &str, headers: &[String]) -> DataError {
    DataError::CsvMissingColumn {
        csv: csv.to_path_buf(),
        column: column.to_string(),
        found: headers.join(", "),
    }
}

/// The folder relative paths of a manifest are resolved against.
fn csv_base_dir(csv_path: &Path) -> PathBuf {
    match csv_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The line of a record in its file (0 if unknown), for error messages.
pub(super) fn line_of(rec: &::csv::StringRecord) -> u64 {
    rec.position().map(|p| p.line()).unwrap_or(0)
}

/// Load a CSV manifest: columns `path` (aliases `file`, `filename`), `labels` (`;`-separated) or
/// `label`, optional `split`. Column names are case-insensitive; fields are trimmed.
fn load_csv(csv_path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let mut rdr = csv_reader(csv_path)?;
    let headers = headers_of(&mut rdr, csv_path)?;
    let path_col = find_col(&headers, &["path", "file", "filename"])
        .ok_or_else(|| missing_col(csv_path, "'path'", &headers))?;
    let labels_col = find_col(&headers, &["labels"]);
    let label_col = labels_col
        .or_else(|| find_col(&headers, &["label"]))
        .ok_or_else(|| missing_col(csv_path, "'label' or 'labels'", &headers))?;
    let split_col = find_col(&headers, &["split"]);
    let base = csv_base_dir(csv_path);

    let mut paths = Vec::new();
    let mut labels: Vec<Vec<String>> = Vec::new();
    let mut splits: Vec<Option<Split>> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|source| DataError::Csv {
            path: csv_path.to_path_buf(),
            source,
        })?;
        let line = line_of(&rec);
        if rec.iter().all(|f| f.is_empty()) {
            continue; // blank line
        }
        let rel = rec.get(path_col).unwrap_or("");
        if rel.is_empty() {
            return Err(DataError::CsvBadRow {
                csv: csv_path.to_path_buf(),
                line,
                reason: "empty path".into(),
            });
        }
        let raw = rec.get(label_col).unwrap_or("");
        let mut ls: Vec<String> = Vec::new();
        for piece in raw.split(';') {
            let piece = piece.trim();
            if piece.is_empty() {
                if raw.trim().is_empty() {
                    break;
                }
                continue; // tolerate "a;;b" and a trailing ';'
            }
            if !ls.iter().any(|l| l == piece) {
                ls.push(piece.to_string());
            }
        }
        if ls.is_empty() {
            return Err(DataError::CsvEmptyLabel {
                csv: csv_path.to_path_buf(),
                line,
            });
        }
        let split = match split_col {
            None => None,
            Some(c) => {
                let v = rec.get(c).unwrap_or("");
                Some(v.parse::<Split>().map_err(|_| DataError::CsvBadSplit {
                    csv: csv_path.to_path_buf(),
                    line,
                    value: v.to_string(),
                })?)
            }
        };
        let full = base.join(rel.replace('\\', "/"));
        if !full.is_file() {
            return Err(DataError::MissingFile {
                csv: csv_path.to_path_buf(),
                line,
                path: full,
            });
        }
        paths.push(full);
        labels.push(ls);
        splits.push(split);
    }
    if paths.is_empty() {
        return Err(DataError::NoClips {
            path: csv_path.to_path_buf(),
        });
    }
    let multi_label = labels_col.is_some() || labels.iter().any(|l| l.len() > 1);
    let (classes, idx) = index_labels(&labels);
    let splits: Vec<Split> = if split_col.is_some() {
        splits
            .into_iter()
            .map(|s| s.expect("split column"))
            .collect()
    } else {
        let strata: Vec<usize> = idx.iter().map(|l| l[0]).collect();
        stratified_split(&strata, opts.val_fraction, opts.test_fraction, opts.seed)
    };
    let clips = paths
        .into_iter()
        .zip(idx)
        .zip(splits)
        .map(|((path, labels), split)| Clip {
            path,
            labels,
            split,
        })
        .collect();
    Ok(Dataset {
        name: dataset_name(csv_path),
        format: Format::Csv,
        classes,
        multi_label,
        clips,
        notes: Vec::new(),
        warnings: Vec::new(),
    })
}
