//! Official class indices (`index, name, id` rows): AudioSet's `class_labels_indices.csv` and
//! FSD50K's `vocabulary.csv`. Classes keep the index order of the file, not alphabetical order,
//! so class `i` of the [`crate::Dataset`] is the official class `i`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::csv::line_of;
use super::not_a;
use crate::error::{DataError, Result};

/// Which column holds what in a class-index file.
pub(super) struct IndexColumns {
    /// The 0-based class index.
    pub index: usize,
    /// The class name shown to people (AudioSet's `display_name`, FSD50K's `label`).
    pub name: usize,
    /// The stable class id used by the label lists (`/m/09x0r`).
    pub id: usize,
}

/// A class index read from disk: names in index order and lookups by id and by name.
pub(super) struct ClassIndex {
    /// The file it was read from (named in errors about unknown labels).
    pub path: PathBuf,
    /// Class names, position = official index.
    pub names: Vec<String>,
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
    /// Names shared by more than one class, for a warning (`name (indices 3, 7)`).
    pub repeated_names: Vec<String>,
}

impl ClassIndex {
    /// The class index of the id `id` (`/m/09x0r`).
    pub fn by_id(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The class index of the name `name` (the first class of that name).
    pub fn by_name(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// [`DataError::UnknownLabel`] for `label` on `line` of `csv`.
    pub fn unknown(&self, csv: &Path, line: u64, label: &str) -> DataError {
        DataError::UnknownLabel {
            csv: csv.to_path_buf(),
            line,
            label: label.to_string(),
            index: self.path.clone(),
        }
    }
}

/// Reads a class index from `rdr` (over `path`): every row needs an integer index, a name and an
/// id; the indices must be `0..n` each exactly once (rows may come in any order), and ids must
/// be unique. A repeated name is allowed (it is reported in [`ClassIndex::repeated_names`]).
/// `format` names the layout in the error for a file without rows.
pub(super) fn read_class_index(
    mut rdr: ::csv::Reader<std::fs::File>,
    path: &Path,
    cols: IndexColumns,
    format: &str,
) -> Result<ClassIndex> {
    let bad = |line: u64, reason: String| DataError::CsvBadRow {
        csv: path.to_path_buf(),
        line,
        reason,
    };
    // (index, name, id, line)
    let mut rows: Vec<(usize, String, String, u64)> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|source| DataError::Csv {
            path: path.to_path_buf(),
            source,
        })?;
        let line = line_of(&rec);
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        let field = |c: usize, what: &str| -> Result<String> {
            match rec.get(c) {
                Some(v) if !v.is_empty() => Ok(v.to_string()),
                _ => Err(bad(line, format!("empty or missing {what}"))),
            }
        };
        let index_s = field(cols.index, "class index")?;
        // The FSD50K vocabulary has no header; tolerate one anyway.
        if rows.is_empty() && index_s.eq_ignore_ascii_case("index") {
            continue;
        }
        let index: usize = index_s.parse().map_err(|_| {
            bad(
                line,
                format!("class index '{index_s}' is not a non-negative integer"),
            )
        })?;
        rows.push((
            index,
            field(cols.name, "class name")?,
            field(cols.id, "class id")?,
            line,
        ));
    }
    if rows.is_empty() {
        return Err(not_a(path, format, "the class index lists no classes"));
    }
    rows.sort_by_key(|r| (r.0, r.3));
    let n = rows.len();
    let mut names = Vec::with_capacity(n);
    let mut by_id = HashMap::with_capacity(n);
    let mut by_name: HashMap<String, usize> = HashMap::with_capacity(n);
    let mut shared: HashMap<String, Vec<usize>> = HashMap::new();
    for (pos, (index, name, id, line)) in rows.into_iter().enumerate() {
        if index != pos {
            let reason = if index < pos {
                format!("class index {index} is listed twice")
            } else if index >= n {
                format!("class index {index} is out of range: {n} classes are listed, so indices must be 0..={}", n - 1)
            } else {
                format!(
                    "class index {pos} is missing (indices must be 0..={}, each once)",
                    n - 1
                )
            };
            return Err(bad(line, reason));
        }
        if by_id.insert(id.clone(), index).is_some() {
            return Err(bad(line, format!("class id '{id}' is listed twice")));
        }
        match by_name.get(&name) {
            Some(&first) => shared
                .entry(name.clone())
                .or_insert_with(|| vec![first])
                .push(index),
            None => {
                by_name.insert(name.clone(), index);
            }
        }
        names.push(name);
    }
    let mut repeated: Vec<(usize, String)> = shared
        .into_iter()
        .map(|(name, idx)| {
            let list: Vec<String> = idx.iter().map(|i| i.to_string()).collect();
            (idx[0], format!("'{name}' (indices {})", list.join(", ")))
        })
        .collect();
    repeated.sort();
    Ok(ClassIndex {
        path: path.to_path_buf(),
        names,
        by_id,
        by_name,
        repeated_names: repeated.into_iter().map(|r| r.1).collect(),
    })
}

/// The warning for [`ClassIndex::repeated_names`], if any.
pub(super) fn repeated_names_warning(index: &ClassIndex) -> Option<String> {
    if index.repeated_names.is_empty() {
        return None;
    }
    let n = index.repeated_names.len();
    Some(format!(
        "{}: {n} class {} shared by more than one class: {}; Dataset::class_index returns the \
         first",
        index.path.display(),
        if n == 1 { "name is" } else { "names are" },
        index.repeated_names.join(", ")
    ))
}
