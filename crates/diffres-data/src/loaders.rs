//! The per-format loaders and format detection.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{io_err, DataError, Result};
use crate::util::{
    audio_files_recursive, file_name_str, has_audio_recursive, index_labels, is_audio_file,
    read_dir_sorted, stratified_split, subdirs, top_level_audio,
};
use crate::{Clip, Dataset, Format, LoadOptions, Split};

/// The dataset name: a file's stem (but the folder's name for a generic `manifest.csv` or
/// `esc50.csv`), else the folder's name.
fn dataset_name(path: &Path) -> String {
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

fn not_a(path: &Path, expected: &str, reason: impl Into<String>) -> DataError {
    DataError::NotADataset {
        path: path.to_path_buf(),
        expected: expected.to_string(),
        reason: reason.into(),
    }
}

/// The manifest a folder would use as a CSV dataset: `manifest.csv` if present, else the only
/// top-level `*.csv`. `Ok(Err(n))` reports `n` ambiguous CSV files.
fn find_manifest(dir: &Path) -> Result<std::result::Result<PathBuf, usize>> {
    let m = dir.join("manifest.csv");
    if m.is_file() {
        return Ok(Ok(m));
    }
    let csvs: Vec<PathBuf> = read_dir_sorted(dir)?
        .into_iter()
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        })
        .collect();
    match csvs.len() {
        1 => Ok(Ok(csvs.into_iter().next().expect("one csv"))),
        n => Ok(Err(n)),
    }
}

/// Parse an FSDD file name `{digit}_{speaker}_{index}.(wav|flac)` into (digit, speaker, index).
pub(crate) fn parse_fsdd_name(path: &Path) -> Option<(String, String, u32)> {
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

/// Detect the layout of `path` (see the crate docs for the order of the checks):
/// `meta/esc50.csv` (or that file itself) -> ESC-50; `validation_list.txt`, `testing_list.txt` or
/// `_background_noise_` -> Speech Commands; a `.csv` file, or a folder with `manifest.csv` or a
/// single top-level `*.csv` -> CSV; top-level audio files that all match the FSDD naming ->
/// FSDD; subfolders containing audio -> folders; otherwise an error saying what was looked for.
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
        let is_csv = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        return if is_csv {
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
    let manifest = find_manifest(path)?;
    if manifest.is_ok() {
        return Ok(Format::Csv);
    }
    let top = top_level_audio(path)?;
    if !top.is_empty() && top.iter().all(|p| parse_fsdd_name(p).is_some()) {
        return Ok(Format::Fsdd);
    }
    if subdirs(path)?.iter().any(|d| has_audio_recursive(d)) {
        return Ok(Format::Folders);
    }
    let mut reason = String::from(
        "found no meta/esc50.csv, no validation_list.txt/testing_list.txt/_background_noise_, \
         no manifest.csv or single *.csv, no FSDD-named audio files and no class subfolders \
         containing audio (wav, flac, ogg, mp3)",
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

// ---------------------------------------------------------------------------------------------
// folders

pub(crate) fn load_folders(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
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

// ---------------------------------------------------------------------------------------------
// CSV manifest

pub(crate) fn load_csv_path(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
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

fn csv_reader(csv_path: &Path) -> Result<csv::Reader<std::fs::File>> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(csv_path)
        .map_err(|source| DataError::Csv {
            path: csv_path.to_path_buf(),
            source,
        })
}

fn headers_of(rdr: &mut csv::Reader<std::fs::File>, csv_path: &Path) -> Result<Vec<String>> {
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

fn find_col(headers: &[String], names: &[&str]) -> Option<usize> {
    names
        .iter()
        .find_map(|n| headers.iter().position(|h| h == n))
}

fn missing_col(csv: &Path, column: &str, headers: &[String]) -> DataError {
    DataError::CsvMissingColumn {
        csv: csv.to_path_buf(),
        column: column.to_string(),
        found: headers.join(", "),
    }
}

fn csv_base_dir(csv_path: &Path) -> PathBuf {
    match csv_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn line_of(rec: &csv::StringRecord) -> u64 {
    rec.position().map(|p| p.line()).unwrap_or(0)
}

/// Load a CSV manifest: columns `path` (aliases `file`, `filename`), `labels` (`;`-separated) or
/// `label`, optional `split`. Column names are case-insensitive; fields are trimmed.
pub(crate) fn load_csv(csv_path: &Path, opts: &LoadOptions) -> Result<Dataset> {
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

// ---------------------------------------------------------------------------------------------
// ESC-50

struct Esc50Row {
    path: PathBuf,
    fold: u32,
    category: String,
}

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

pub(crate) fn load_esc50(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let root = esc50_root(path);
    let (_, rows) = read_esc50(&root)?;
    let available: Vec<u32> = rows
        .iter()
        .map(|r| r.fold)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let fold = opts.fold.unwrap_or(1);
    if !(1..=5).contains(&fold) || !available.contains(&fold) {
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
    let strata: Vec<usize> = rest.iter().map(|&i| idx[i][0]).collect();
    let rest_splits = stratified_split(&strata, opts.val_fraction, 0.0, opts.seed);
    let mut splits = vec![Split::Test; rows.len()];
    for (&i, s) in rest.iter().zip(rest_splits) {
        splits[i] = s;
    }
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

// ---------------------------------------------------------------------------------------------
// Speech Commands

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

pub(crate) fn load_speech_commands(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
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

// ---------------------------------------------------------------------------------------------
// FSDD

pub(crate) fn load_fsdd(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    if !path.is_dir() {
        return Err(not_a(path, "fsdd", "not a directory"));
    }
    let mut rows = Vec::new();
    for f in read_dir_sorted(path)? {
        if !f.is_file() || !is_audio_file(&f) || crate::util::is_hidden(&f) {
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
    let strata: Vec<usize> = train.iter().map(|&i| idx[i][0]).collect();
    let train_splits = stratified_split(&strata, opts.val_fraction, 0.0, opts.seed);
    let mut splits = vec![Split::Test; rows.len()];
    for (&i, s) in train.iter().zip(train_splits) {
        splits[i] = s;
    }
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
