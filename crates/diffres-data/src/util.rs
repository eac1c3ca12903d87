//! Shared helpers: directory walking, seeded stratified splitting, seed mixing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{io_err, DataError, Result};
use crate::Split;

/// Audio file extensions recognised (compared case-insensitively).
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "flac", "ogg", "mp3"];

/// Whether `path` has one of the [`AUDIO_EXTENSIONS`] (case-insensitive).
pub fn is_audio_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| {
            let e = e.to_ascii_lowercase();
            AUDIO_EXTENSIONS.contains(&e.as_str())
        })
        .unwrap_or(false)
}

/// Sorted entries of a directory.
pub(crate) fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

pub(crate) fn file_name_str(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(crate) fn is_hidden(path: &Path) -> bool {
    file_name_str(path).starts_with('.')
}

/// Sorted subdirectories of `dir` that are not hidden (do not start with `.`).
pub(crate) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(read_dir_sorted(dir)?
        .into_iter()
        .filter(|p| p.is_dir() && !is_hidden(p))
        .collect())
}

/// Audio files directly inside `dir` (not recursive), sorted.
pub(crate) fn top_level_audio(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(read_dir_sorted(dir)?
        .into_iter()
        .filter(|p| p.is_file() && is_audio_file(p) && !is_hidden(p))
        .collect())
}

/// Audio files anywhere below `dir` (hidden files and folders skipped), sorted.
pub(crate) fn audio_files_recursive(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for p in read_dir_sorted(&d)? {
            if is_hidden(&p) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() && is_audio_file(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether any audio file exists below `dir`.
pub(crate) fn has_audio_recursive(dir: &Path) -> bool {
    audio_files_recursive(dir)
        .map(|v| !v.is_empty())
        .unwrap_or(false)
}

/// SplitMix64 finaliser: a good 64-bit mixing function for deriving seeds.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derive a seed from a base seed and a list of integers (order-sensitive).
pub fn derive_seed(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix64(seed), |acc, &p| {
        mix64(acc ^ mix64(p.wrapping_add(0x51_7C_C1_B7)))
    })
}

pub(crate) fn check_fractions(val: f64, test: f64) -> Result<()> {
    for (name, v) in [("val_fraction", val), ("test_fraction", test)] {
        if !v.is_finite() || !(0.0..1.0).contains(&v) {
            return Err(DataError::FractionOutOfRange { name, value: v });
        }
    }
    if val + test >= 1.0 {
        return Err(DataError::FractionOutOfRange {
            name: "val_fraction",
            value: val,
        });
    }
    Ok(())
}

/// Number of (val, test) clips for a class of `n` clips: rounded counts, reduced (the larger
/// first, ties reduce val) until at least one clip is left for training when `n >= 1`.
pub fn split_counts(n: usize, val_fraction: f64, test_fraction: f64) -> (usize, usize) {
    let mut nv = (n as f64 * val_fraction).round() as usize;
    let mut nt = (n as f64 * test_fraction).round() as usize;
    while n > 0 && nv + nt >= n {
        if nv >= nt && nv > 0 {
            nv -= 1;
        } else if nt > 0 {
            nt -= 1;
        } else {
            break;
        }
    }
    (nv, nt)
}

/// Seeded stratified split. `strata[i]` is item `i`'s stratum (class); items must already be in
/// a deterministic (sorted) order. Each stratum is shuffled with its own RNG derived from
/// `(seed, stratum)`, so adding a class does not change the other classes' splits; the first
/// `n_test` shuffled items go to test, the next `n_val` to val, the rest to train.
pub fn stratified_split(
    strata: &[usize],
    val_fraction: f64,
    test_fraction: f64,
    seed: u64,
) -> Vec<Split> {
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &s) in strata.iter().enumerate() {
        groups.entry(s).or_default().push(i);
    }
    let mut out = vec![Split::Train; strata.len()];
    for (stratum, mut idx) in groups {
        let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, &[0x5911_7000, stratum as u64]));
        idx.shuffle(&mut rng);
        let (nv, nt) = split_counts(idx.len(), val_fraction, test_fraction);
        for (k, &i) in idx.iter().enumerate() {
            out[i] = if k < nt {
                Split::Test
            } else if k < nt + nv {
                Split::Val
            } else {
                Split::Train
            };
        }
    }
    out
}

/// Build a sorted class list and map each item's labels to indices.
pub(crate) fn index_labels(labels: &[Vec<String>]) -> (Vec<String>, Vec<Vec<usize>>) {
    let mut classes: Vec<String> = labels.iter().flatten().cloned().collect();
    classes.sort();
    classes.dedup();
    let idx = labels
        .iter()
        .map(|ls| {
            ls.iter()
                .map(|l| classes.binary_search(l).expect("label is in class list"))
                .collect()
        })
        .collect();
    (classes, idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_seed_is_deterministic_and_order_sensitive() {
        assert_eq!(derive_seed(1, &[2, 3]), derive_seed(1, &[2, 3]));
        assert_ne!(derive_seed(1, &[2, 3]), derive_seed(1, &[3, 2]));
        assert_ne!(derive_seed(1, &[2, 3]), derive_seed(2, &[2, 3]));
    }

    #[test]
    fn stratified_split_counts_and_independence() {
        // 10 items of stratum 0, 30 of stratum 1
        let strata: Vec<usize> = (0..40).map(|i| usize::from(i >= 10)).collect();
        let s = stratified_split(&strata, 0.2, 0.1, 42);
        let count = |st: usize, sp: Split| {
            s.iter()
                .zip(&strata)
                .filter(|(x, y)| **y == st && **x == sp)
                .count()
        };
        assert_eq!((count(0, Split::Val), count(0, Split::Test)), (2, 1));
        assert_eq!((count(1, Split::Val), count(1, Split::Test)), (6, 3));
        assert_eq!(s, stratified_split(&strata, 0.2, 0.1, 42));
        assert_ne!(s, stratified_split(&strata, 0.2, 0.1, 43));
        // a stratum's assignment does not depend on the other strata
        let only0 = stratified_split(&strata[..10], 0.2, 0.1, 42);
        assert_eq!(&s[..10], &only0[..]);
    }

    #[test]
    fn audio_extensions() {
        assert!(is_audio_file(Path::new("a/b.WAV")));
        assert!(is_audio_file(Path::new("b.Flac")));
        assert!(is_audio_file(Path::new("b.ogg")));
        assert!(is_audio_file(Path::new("b.mp3")));
        assert!(!is_audio_file(Path::new("b.txt")));
        assert!(!is_audio_file(Path::new("wav")));
    }
}
