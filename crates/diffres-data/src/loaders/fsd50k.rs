//! FSD50K from its official ground truth: `FSD50K.ground_truth/vocabulary.csv` (no header:
//! `index,label,mid`), `dev.csv` (`fname,labels,mids,split`, split `train`/`val`) and
//! `eval.csv` (`fname,labels,mids`); audio in `FSD50K.dev_audio/<fname>.wav` and
//! `FSD50K.eval_audio/<fname>.wav`.
//!
//! Multi-label; classes are the vocabulary labels in index order. A clip's classes come from
//! its `mids` (the stable ids; the `labels` names are used only when there is no `mids`
//! column), in the order listed. Every referenced file must exist: the official archives are
//! complete, so a missing file means a broken extraction.

use std::path::{Path, PathBuf};

use super::class_index::{read_class_index, repeated_names_warning, ClassIndex, IndexColumns};
use super::csv::{csv_reader, find_col, headers_of, line_of, missing_col};
use super::{dataset_name, not_a};
use crate::discovery::is_audio_file;
use crate::error::{DataError, Result};
use crate::{Clip, Dataset, Format, LoadOptions, Split};

/// The ground-truth folder.
const GROUND_TRUTH: &str = "FSD50K.ground_truth";

/// Whether `dir` looks like FSD50K: `FSD50K.ground_truth/` with `dev.csv` or `eval.csv`.
pub(super) fn is_fsd50k(dir: &Path) -> bool {
    let gt = dir.join(GROUND_TRUTH);
    gt.join("dev.csv").is_file() || gt.join("eval.csv").is_file()
}

/// Reads `vocabulary.csv` (no header; columns index, label, mid).
fn read_vocabulary(path: &Path) -> Result<ClassIndex> {
    let rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(::csv::Trim::All)
        .from_path(path)
        .map_err(|source| DataError::Csv {
            path: path.to_path_buf(),
            source,
        })?;
    let cols = IndexColumns {
        index: 0,
        name: 1,
        id: 2,
    };
    read_class_index(rdr, path, cols, "fsd50k")
}

/// Reads one ground-truth list; `split` is `None` for `dev.csv` (the `split` column decides).
fn read_list(
    csv_path: &Path,
    audio_dir: &Path,
    fixed_split: Option<Split>,
    vocab: &ClassIndex,
    clips: &mut Vec<Clip>,
) -> Result<()> {
    let mut rdr = csv_reader(csv_path)?;
    let headers = headers_of(&mut rdr, csv_path)?;
    let fname_col =
        find_col(&headers, &["fname"]).ok_or_else(|| missing_col(csv_path, "'fname'", &headers))?;
    // The ids when present, else the names.
    let (label_col, by_id) = match find_col(&headers, &["mids"]) {
        Some(c) => (c, true),
        None => (
            find_col(&headers, &["labels"])
                .ok_or_else(|| missing_col(csv_path, "'mids' or 'labels'", &headers))?,
            false,
        ),
    };
    let split_col = match fixed_split {
        Some(_) => None,
        None => Some(
            find_col(&headers, &["split"])
                .ok_or_else(|| missing_col(csv_path, "'split'", &headers))?,
        ),
    };
    for rec in rdr.records() {
        let rec = rec.map_err(|source| DataError::Csv {
            path: csv_path.to_path_buf(),
            source,
        })?;
        let line = line_of(&rec);
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        let fname = rec.get(fname_col).unwrap_or("");
        if fname.is_empty() {
            return Err(DataError::CsvBadRow {
                csv: csv_path.to_path_buf(),
                line,
                reason: "empty fname".into(),
            });
        }
        let mut labels = Vec::new();
        for l in rec
            .get(label_col)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let c = if by_id {
                vocab.by_id(l)
            } else {
                vocab.by_name(l)
            };
            let c = c.ok_or_else(|| vocab.unknown(csv_path, line, l))?;
            if !labels.contains(&c) {
                labels.push(c);
            }
        }
        if labels.is_empty() {
            return Err(DataError::CsvEmptyLabel {
                csv: csv_path.to_path_buf(),
                line,
            });
        }
        let split = match (fixed_split, split_col) {
            (Some(s), _) => s,
            (None, Some(c)) => {
                let v = rec.get(c).unwrap_or("");
                v.parse::<Split>().map_err(|_| DataError::CsvBadSplit {
                    csv: csv_path.to_path_buf(),
                    line,
                    value: v.to_string(),
                })?
            }
            (None, None) => unreachable!("dev.csv has a split column"),
        };
        let path = audio_path(audio_dir, fname);
        if !path.is_file() {
            return Err(DataError::MissingFile {
                csv: csv_path.to_path_buf(),
                line,
                path,
            });
        }
        clips.push(Clip {
            path,
            labels,
            split,
        });
    }
    Ok(())
}

/// `<audio_dir>/<fname>.wav`, or `<audio_dir>/<fname>` if `fname` already has an audio
/// extension.
fn audio_path(audio_dir: &Path, fname: &str) -> PathBuf {
    if is_audio_file(Path::new(fname)) {
        audio_dir.join(fname)
    } else {
        audio_dir.join(format!("{fname}.wav"))
    }
}

/// Load FSD50K from `path`, the folder holding `FSD50K.ground_truth/` (see the module docs).
pub(super) fn load_fsd50k(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let _ = opts; // the split is fixed by the ground truth
    if !path.is_dir() {
        return Err(not_a(path, "fsd50k", "not a directory"));
    }
    let gt = path.join(GROUND_TRUTH);
    let vocab_path = gt.join("vocabulary.csv");
    if !vocab_path.is_file() {
        return Err(not_a(
            path,
            "fsd50k",
            format!("{GROUND_TRUTH}/vocabulary.csv not found"),
        ));
    }
    let (dev, eval) = (gt.join("dev.csv"), gt.join("eval.csv"));
    if !dev.is_file() && !eval.is_file() {
        return Err(not_a(
            path,
            "fsd50k",
            format!("found neither {GROUND_TRUTH}/dev.csv nor {GROUND_TRUTH}/eval.csv"),
        ));
    }
    let vocab = read_vocabulary(&vocab_path)?;
    let mut clips = Vec::new();
    let mut used = Vec::new();
    if dev.is_file() {
        read_list(
            &dev,
            &path.join("FSD50K.dev_audio"),
            None,
            &vocab,
            &mut clips,
        )?;
        used.push("dev.csv (train/val by its split column)");
    }
    if eval.is_file() {
        let audio = path.join("FSD50K.eval_audio");
        read_list(&eval, &audio, Some(Split::Test), &vocab, &mut clips)?;
        used.push("eval.csv (test)");
    }
    let notes = vec![format!(
        "FSD50K lists: {}; {} classes in vocabulary.csv index order",
        used.join(", "),
        vocab.names.len()
    )];
    Ok(Dataset {
        name: dataset_name(path),
        format: Format::Fsd50k,
        warnings: repeated_names_warning(&vocab).into_iter().collect(),
        classes: vocab.names,
        multi_label: true,
        clips,
        notes,
    })
}
