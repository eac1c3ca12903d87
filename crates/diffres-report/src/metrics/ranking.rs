//! Ranking metrics: average precision and ROC AUC per class (scikit-learn definitions), and
//! their macro averages over classes (mAP and mean AUC, AudioSet / PSLA convention).

use std::cmp::Ordering;

use super::rank_value;

/// Scores sorted in descending order with their labels.
fn sorted_desc(scores: &[f32], positives: &[bool]) -> Vec<(f64, bool)> {
    let mut v: Vec<(f64, bool)> = scores
        .iter()
        .zip(positives)
        .map(|(&s, &p)| (rank_value(s), p))
        .collect();
    v.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal));
    v
}

/// Average precision, scikit-learn's `average_precision_score`:
/// `AP = sum_n (R_n - R_{n-1}) P_n` over the distinct score thresholds in descending
/// order (tied scores form one step). `None` when there is no positive (or no sample).
pub fn average_precision(scores: &[f32], positives: &[bool]) -> Option<f64> {
    let v = sorted_desc(scores, positives);
    let total_pos = v.iter().filter(|x| x.1).count();
    if total_pos == 0 {
        return None;
    }
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut prev_recall = 0.0f64;
    let mut ap = 0.0f64;
    let mut i = 0;
    while i < v.len() {
        let s = v[i].0;
        // Consume the whole block of tied scores.
        while i < v.len() && v[i].0 == s {
            if v[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let recall = tp as f64 / total_pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Some(ap)
}

/// Area under the ROC curve, scikit-learn's `roc_auc_score` (tied scores count one
/// half, i.e. the Mann-Whitney statistic with average ranks). `None` when there is no
/// positive or no negative.
pub fn roc_auc(scores: &[f32], positives: &[bool]) -> Option<f64> {
    let mut v = sorted_desc(scores, positives);
    v.reverse(); // ascending
    let n_pos = v.iter().filter(|x| x.1).count();
    let n_neg = v.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    // Sum of (average, 1-based) ranks of the positives.
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < v.len() {
        let s = v[i].0;
        let start = i;
        let mut pos_in_block = 0usize;
        while i < v.len() && v[i].0 == s {
            if v[i].1 {
                pos_in_block += 1;
            }
            i += 1;
        }
        let avg_rank = (start + 1 + i) as f64 / 2.0;
        rank_sum += avg_rank * pos_in_block as f64;
    }
    let u = rank_sum - (n_pos as f64) * (n_pos as f64 + 1.0) / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// Column `c` of a `[n][classes]` matrix (missing entries are skipped together with
/// their label).
fn column(scores: &[Vec<f32>], targets: &[Vec<bool>], c: usize) -> (Vec<f32>, Vec<bool>) {
    let mut s = Vec::with_capacity(scores.len());
    let mut t = Vec::with_capacity(scores.len());
    for (row, trow) in scores.iter().zip(targets) {
        if let (Some(&x), Some(&y)) = (row.get(c), trow.get(c)) {
            s.push(x);
            t.push(y);
        }
    }
    (s, t)
}

fn n_classes(scores: &[Vec<f32>], targets: &[Vec<bool>]) -> usize {
    scores
        .iter()
        .zip(targets)
        .map(|(a, b)| a.len().min(b.len()))
        .max()
        .unwrap_or(0)
}

/// Macro mean over classes of a per-class metric, skipping classes where it is
/// undefined. `NaN` when it is undefined for every class.
fn macro_mean(
    scores: &[Vec<f32>],
    targets: &[Vec<bool>],
    f: impl Fn(&[f32], &[bool]) -> Option<f64>,
) -> f64 {
    let mut sum = 0.0;
    let mut count = 0usize;
    for c in 0..n_classes(scores, targets) {
        let (s, t) = column(scores, targets, c);
        if let Some(v) = f(&s, &t) {
            sum += v;
            count += 1;
        }
    }
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// Mean average precision: the macro average of [`average_precision`] over the classes
/// that have at least one positive (AudioSet / PSLA convention). `scores` and `targets`
/// are `[n][classes]`. `NaN` when no class has a positive.
pub fn mean_average_precision(scores: &[Vec<f32>], targets: &[Vec<bool>]) -> f64 {
    macro_mean(scores, targets, average_precision)
}

/// Macro average of [`roc_auc`] over the classes that have both positives and negatives.
/// `NaN` when there is no such class.
pub fn mean_roc_auc(scores: &[Vec<f32>], targets: &[Vec<bool>]) -> f64 {
    macro_mean(scores, targets, roc_auc)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{b, close};
    use super::*;
    use crate::metrics::{d_prime, evaluate_multi_label, TaskKind};

    // Reference values: scikit-learn 1.9.1 average_precision_score / roc_auc_score.
    const SKLEARN_CASES: &[(&[f32], &[u8], f64, f64)] = &[
        (
            &[0.9, 0.8, 0.7, 0.6],
            &[1, 0, 1, 0],
            0.8333333333333333,
            0.75,
        ),
        (
            &[0.5, 0.5, 0.3, 0.9, 0.1, 0.3],
            &[1, 0, 1, 0, 1, 1],
            0.55,
            0.0625,
        ),
        (&[0.2, 0.2, 0.2, 0.2], &[1, 0, 0, 1], 0.5, 0.5),
        (
            &[0.1, 0.4, 0.35, 0.8],
            &[0, 0, 1, 1],
            0.8333333333333333,
            0.75,
        ),
        (
            &[0.3, 0.7, 0.7, 0.7, 0.2, 0.9, 0.9, 0.1],
            &[0, 1, 0, 1, 1, 0, 1, 0],
            0.5678571428571428,
            0.59375,
        ),
    ];

    #[test]
    fn ap_hand_computed() {
        let ap = average_precision(&[0.9, 0.8, 0.7, 0.6], &b(&[1, 0, 1, 0])).unwrap();
        assert!(close(ap, (1.0 + 2.0 / 3.0) / 2.0, 1e-12));
        // Perfect ranking.
        let ap = average_precision(&[0.9, 0.8, 0.1], &b(&[1, 1, 0])).unwrap();
        assert!(close(ap, 1.0, 1e-12));
        // No positive.
        assert_eq!(average_precision(&[0.9, 0.8], &b(&[0, 0])), None);
        assert_eq!(average_precision(&[], &[]), None);
    }

    #[test]
    fn ap_and_auc_match_sklearn_including_ties() {
        for (s, y, ap, auc) in SKLEARN_CASES {
            let got_ap = average_precision(s, &b(y)).unwrap();
            let got_auc = roc_auc(s, &b(y)).unwrap();
            assert!(close(got_ap, *ap, 1e-12), "AP {s:?}: {got_ap} vs {ap}");
            assert!(close(got_auc, *auc, 1e-12), "AUC {s:?}: {got_auc} vs {auc}");
        }
    }

    #[test]
    fn auc_undefined_without_both_classes() {
        assert_eq!(roc_auc(&[0.1, 0.2], &b(&[1, 1])), None);
        assert_eq!(roc_auc(&[0.1, 0.2], &b(&[0, 0])), None);
        assert_eq!(roc_auc(&[], &[]), None);
    }

    #[test]
    fn map_and_mean_auc_match_sklearn() {
        let s: Vec<Vec<f32>> = vec![
            vec![0.9, 0.1, 0.3],
            vec![0.2, 0.8, 0.3],
            vec![0.6, 0.6, 0.1],
            vec![0.1, 0.3, 0.7],
            vec![0.4, 0.5, 0.5],
            vec![0.7, 0.2, 0.9],
        ];
        let y: Vec<Vec<bool>> = [
            [1, 0, 0],
            [0, 0, 0],
            [0, 1, 0],
            [1, 0, 0],
            [0, 1, 0],
            [1, 1, 0],
        ]
        .iter()
        .map(|r| b(r))
        .collect();
        // Class 2 has no positive and is skipped (AudioSet convention).
        assert!(close(
            mean_average_precision(&s, &y),
            0.711111111111111,
            1e-12
        ));
        assert!(close(mean_roc_auc(&s, &y), 0.6111111111111112, 1e-12));
        let e = evaluate_multi_label(&s, &y);
        assert_eq!(e.task, TaskKind::MultiLabel);
        assert_eq!(e.primary().0, "mAP");
        assert!(close(e.primary().1, 0.711111111111111, 1e-12));
        assert_eq!(e.accuracy, None);
        assert_eq!(e.n, 6);
        assert!(close(
            e.d_prime.unwrap(),
            d_prime(0.6111111111111112),
            1e-12
        ));
        assert!(mean_average_precision(&[], &[]).is_nan());
    }
}
