//! Single-label classification metrics: argmax, accuracy, top-k accuracy and the confusion
//! matrix.

use super::rank_value;

/// Index of the largest score (NaN counts as `-inf`; first index on ties).
/// `None` for an empty row.
pub fn argmax(scores: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &s) in scores.iter().enumerate() {
        let v = rank_value(s);
        match best {
            Some((_, b)) if v <= b => {}
            _ => best = Some((i, v)),
        }
    }
    best.map(|(i, _)| i)
}

/// Fraction of `pred[i] == target[i]`. `NaN` when empty.
pub fn accuracy(pred: &[usize], target: &[usize]) -> f64 {
    let n = pred.len().min(target.len());
    if n == 0 {
        return f64::NAN;
    }
    let correct = pred.iter().zip(target).filter(|(p, t)| p == t).count();
    correct as f64 / n as f64
}

/// Fraction of samples whose target class is among the `k` highest scores.
///
/// Ties are broken in favour of the lower class index (a stable ranking), so the result
/// does not depend on luck. A target outside the score row counts as a miss; `k == 0`
/// gives 0. `NaN` when empty.
pub fn top_k_accuracy(scores: &[Vec<f32>], target: &[usize], k: usize) -> f64 {
    let n = scores.len().min(target.len());
    if n == 0 {
        return f64::NAN;
    }
    let mut hits = 0usize;
    for (row, &t) in scores.iter().zip(target) {
        if t >= row.len() || k == 0 {
            continue;
        }
        let st = rank_value(row[t]);
        // Number of classes ranked strictly before the target.
        let before = row
            .iter()
            .enumerate()
            .filter(|&(j, &s)| {
                let v = rank_value(s);
                v > st || (v == st && j < t)
            })
            .count();
        if before < k {
            hits += 1;
        }
    }
    hits as f64 / n as f64
}

/// Confusion matrix `m[target][pred]` (rows: true class, columns: predicted class).
/// Pairs with an index `>= n_classes` are ignored.
pub fn confusion_matrix(pred: &[usize], target: &[usize], n_classes: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0usize; n_classes]; n_classes];
    for (&p, &t) in pred.iter().zip(target) {
        if p < n_classes && t < n_classes {
            m[t][p] += 1;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::super::test_util::close;
    use super::*;

    #[test]
    fn accuracy_topk_confusion() {
        assert!(close(accuracy(&[0, 1, 2, 2], &[0, 1, 1, 2]), 0.75, 1e-12));
        assert!(accuracy(&[], &[]).is_nan());
        let s = vec![
            vec![0.1, 0.5, 0.2, 0.15, 0.05], // target 2: rank 2
            vec![0.6, 0.1, 0.1, 0.1, 0.1],   // target 4: tied with 1,2,3 -> rank 5
            vec![0.2, 0.2, 0.2, 0.2, 0.2],   // target 0: rank 1 (ties favour low index)
        ];
        let t = [2, 4, 0];
        assert!(close(top_k_accuracy(&s, &t, 1), 1.0 / 3.0, 1e-12));
        assert!(close(top_k_accuracy(&s, &t, 2), 2.0 / 3.0, 1e-12));
        assert!(close(top_k_accuracy(&s, &t, 4), 2.0 / 3.0, 1e-12));
        assert!(close(top_k_accuracy(&s, &t, 5), 1.0, 1e-12));
        assert_eq!(top_k_accuracy(&s, &t, 0), 0.0);
        assert_eq!(top_k_accuracy(&s, &[9, 9, 9], 5), 0.0);
        let m = confusion_matrix(&[0, 1, 1, 2, 7], &[0, 1, 2, 2, 0], 3);
        assert_eq!(m, vec![vec![1, 0, 0], vec![0, 1, 0], vec![0, 1, 1]]);
    }
}
