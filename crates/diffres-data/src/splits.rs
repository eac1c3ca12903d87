//! Seeded stratified splitting and label indexing, shared by the loaders, the validation
//! carving of [`crate::load_dataset`] and the synthetic dataset.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::seeds::derive_seed;
use crate::Split;

/// [`DataError::FractionOutOfRange`] unless both fractions are in `[0, 1)` and sum to below 1.
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

/// Splits of a layout with an official test set: the rows `held_in` (not in the test set) are
/// split by [`stratified_split`] into validation (`val_fraction`) and training, stratified by
/// `first_label[i]`; every other row is test.
pub(crate) fn val_from_non_test(
    held_in: &[usize],
    first_label: &[usize],
    val_fraction: f64,
    seed: u64,
) -> Vec<Split> {
    let strata: Vec<usize> = held_in.iter().map(|&i| first_label[i]).collect();
    let mut splits = vec![Split::Test; first_label.len()];
    for (&i, s) in held_in
        .iter()
        .zip(stratified_split(&strata, val_fraction, 0.0, seed))
    {
        splits[i] = s;
    }
    splits
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
}
