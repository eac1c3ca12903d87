//! Honest-split rules applied by [`crate::load_dataset`] after a layout is read: at least two
//! classes, a validation split that never comes from the test split, and warnings for
//! duplicate rows and files shared by two splits.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use crate::error::{DataError, Result};
use crate::splits::stratified_split;
use crate::{Dataset, Format, LoadOptions, Split};

/// Names listed in a warning before "and N more".
const MAX_NAMES: usize = 5;

/// [`DataError::SingleClass`] unless the dataset has at least two classes.
pub(crate) fn require_two_classes(path: &Path, ds: &Dataset) -> Result<()> {
    match ds.classes.as_slice() {
        [only] => Err(DataError::SingleClass {
            path: path.to_path_buf(),
            class: only.clone(),
        }),
        // No class at all means no clip, which the loaders already report as NoClips.
        _ => Ok(()),
    }
}

/// The post-load rules: carve a validation split from the training clips where there is none
/// (when `need_val`), note an empty test split, warn about duplicates and cross-split files.
pub(crate) fn finish(
    path: &Path,
    opts: &LoadOptions,
    ds: &mut Dataset,
    need_val: bool,
) -> Result<()> {
    let keys = normalised_keys(ds);
    if need_val && ds.split_len(Split::Val) == 0 {
        carve_validation(path, opts, ds, &keys)?;
    }
    if ds.split_len(Split::Test) == 0 {
        ds.notes.push("no test split: results will say so".into());
    }
    let root = display_root(path);
    let warnings = duplicate_warnings(ds, &keys, &root);
    ds.warnings.extend(warnings);
    Ok(())
}

/// One comparison key per clip: the canonical path when the file exists, else the path with
/// `.` and `..` resolved lexically (so `a/./b.wav` and `a/x/../b.wav` still match).
fn normalised_keys(ds: &Dataset) -> Vec<PathBuf> {
    // Canonicalising is one system call per file; Speech Commands has 65k of them.
    ds.clips
        .par_iter()
        .map(|c| {
            c.path
                .canonicalize()
                .unwrap_or_else(|_| lexical_normal(&c.path))
        })
        .collect()
}

fn lexical_normal(p: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.iter().collect()
}

/// The folder clip paths are shown relative to in warnings.
fn display_root(path: &Path) -> PathBuf {
    if path.is_file() {
        path.parent().unwrap_or(Path::new("")).to_path_buf()
    } else {
        path.to_path_buf()
    }
}

/// Percentage as written in notes: `10`, `12.5`.
pub(crate) fn percent(fraction: f64) -> String {
    format!("{}", (fraction * 1000.0).round() / 10.0)
}

/// Moves a seeded stratified `val_fraction` of the training clips (by first label; all rows of
/// one file together) to the validation split, at least one clip, every class keeping one
/// training clip, and records what was done in `ds.notes`.
fn carve_validation(
    path: &Path,
    opts: &LoadOptions,
    ds: &mut Dataset,
    keys: &[PathBuf],
) -> Result<()> {
    let train = ds.split_len(Split::Train);
    if opts.val_fraction <= 0.0 {
        return Err(DataError::ZeroValFraction {
            path: path.to_path_buf(),
        });
    }
    // One representative (the first training row) per distinct training file.
    let mut first_row: HashMap<&Path, usize> = HashMap::new();
    let mut files: Vec<usize> = Vec::new();
    for (i, c) in ds.clips.iter().enumerate() {
        if c.split == Split::Train && !first_row.contains_key(keys[i].as_path()) {
            first_row.insert(keys[i].as_path(), i);
            files.push(i);
        }
    }
    let strata: Vec<usize> = files.iter().map(|&i| ds.clips[i].label()).collect();
    let mut chosen: Vec<bool> = stratified_split(&strata, opts.val_fraction, 0.0, opts.seed)
        .into_iter()
        .map(|s| s == Split::Val)
        .collect();
    let mut fallback_class = None;
    if !chosen.contains(&true) {
        // The fraction rounds to no clip in every class: take one clip of the largest class
        // (the first on ties) that can spare one, chosen by that class's own seeded shuffle.
        let mut sizes: BTreeMap<usize, usize> = BTreeMap::new();
        for &s in &strata {
            *sizes.entry(s).or_default() += 1;
        }
        let mut best: Option<(usize, usize)> = None;
        for (&class, &n) in &sizes {
            if n >= 2 && best.is_none_or(|(_, m)| n > m) {
                best = Some((class, n));
            }
        }
        let Some((class, n)) = best else {
            return Err(DataError::TooFewTrainingClips {
                path: path.to_path_buf(),
                train,
            });
        };
        // split_counts(n, 1/n, 0) = (1, 0) for n >= 2; the stratum id keeps the class's RNG.
        let one = stratified_split(&vec![class; n], 1.0 / n as f64, 0.0, opts.seed);
        let members = (0..files.len()).filter(|&k| strata[k] == class);
        for (k, s) in members.zip(one) {
            chosen[k] = s == Split::Val;
        }
        fallback_class = Some(class);
    }
    let to_val: std::collections::HashSet<&Path> = files
        .iter()
        .zip(&chosen)
        .filter(|(_, &c)| c)
        .map(|(&i, _)| keys[i].as_path())
        .collect();
    let mut moved = 0usize;
    for (c, key) in ds.clips.iter_mut().zip(keys) {
        if c.split == Split::Train && to_val.contains(key.as_path()) {
            c.split = Split::Val;
            moved += 1;
        }
    }
    let source = if ds.format == Format::Csv {
        "manifest"
    } else {
        "dataset"
    };
    let how = match fallback_class {
        None => format!(
            "{}%, stratified, seed {}",
            percent(opts.val_fraction),
            opts.seed
        ),
        Some(class) => format!(
            "{}% of each class rounds to no clip, so one clip of the largest class '{}', seed {}",
            percent(opts.val_fraction),
            ds.classes[class],
            opts.seed
        ),
    };
    ds.notes.push(format!(
        "no validation split in the {source}: held out {moved} of {train} training clips \
         ({how}) for validation"
    ));
    Ok(())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `a.wav, b.wav` or `a.wav, ..., e.wav and 3 more`.
fn name_list(names: &[String]) -> String {
    let mut s = names
        .iter()
        .take(MAX_NAMES)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX_NAMES {
        s.push_str(&format!(" and {} more", names.len() - MAX_NAMES));
    }
    s
}

/// Warnings for files listed more than once and for files in two splits.
fn duplicate_warnings(ds: &Dataset, keys: &[PathBuf], root: &Path) -> Vec<String> {
    // key -> (display name, rows per split), in order of first appearance.
    let mut order: Vec<&Path> = Vec::new();
    let mut seen: HashMap<&Path, (String, [usize; 3])> = HashMap::new();
    for (c, key) in ds.clips.iter().zip(keys) {
        let entry = seen.entry(key.as_path()).or_insert_with(|| {
            order.push(key.as_path());
            let shown = c.path.strip_prefix(root).unwrap_or(&c.path);
            (shown.display().to_string(), [0; 3])
        });
        let slot = Split::ALL
            .iter()
            .position(|&s| s == c.split)
            .expect("split");
        entry.1[slot] += 1;
    }
    let mut out = Vec::new();
    let mut repeated = Vec::new();
    let mut extra_rows = 0usize;
    for key in &order {
        let (name, counts) = &seen[key];
        let rows: usize = counts.iter().sum();
        if rows > 1 {
            extra_rows += rows - 1;
            repeated.push(format!("{name} ({rows} rows)"));
        }
    }
    if extra_rows > 0 {
        out.push(format!(
            "{}: {} listed more than once: {}; all rows are kept, so these files count more \
             than once",
            plural(extra_rows, "duplicate row", "duplicate rows"),
            plural(repeated.len(), "file is", "files are"),
            name_list(&repeated)
        ));
    }
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        let both: Vec<String> = order
            .iter()
            .map(|k| &seen[k])
            .filter(|(_, c)| c[a] > 0 && c[b] > 0)
            .map(|(name, _)| name.clone())
            .collect();
        if !both.is_empty() {
            out.push(format!(
                "{} in both {} and {}: {}",
                plural(both.len(), "file is", "files are"),
                Split::ALL[a],
                Split::ALL[b],
                name_list(&both)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_normal_resolves_dots() {
        assert_eq!(
            lexical_normal(Path::new("d/./a/x/../b.wav")),
            PathBuf::from("d/a/b.wav")
        );
        // A leading `..` cannot be resolved lexically and is kept.
        assert_eq!(
            lexical_normal(Path::new("../a/b.wav")),
            PathBuf::from("../a/b.wav")
        );
    }

    #[test]
    fn name_list_caps_at_five() {
        let names: Vec<String> = (1..=7).map(|i| format!("{i}.wav")).collect();
        assert_eq!(
            name_list(&names),
            "1.wav, 2.wav, 3.wav, 4.wav, 5.wav and 2 more"
        );
        assert_eq!(name_list(&names[..2]), "1.wav, 2.wav");
        assert_eq!(percent(0.1), "10");
        assert_eq!(percent(0.125), "12.5");
    }
}
