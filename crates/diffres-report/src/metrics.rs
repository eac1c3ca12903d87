//! Evaluation metrics for single-label and multi-label audio classification.
//!
//! Definitions follow scikit-learn (`average_precision_score`, `roc_auc_score`) and the
//! AudioSet / PSLA convention for the macro averages (mAP, mean AUC, d-prime).
//!
//! # Non-finite scores
//! No function here panics on NaN. A NaN score is ranked as the lowest possible score
//! (as if it were `-inf`): it never wins an argmax and is ranked last by AP and AUC,
//! so a diverged model gets a bad (not a flattering) metric. [`Evaluation::n_nan`]
//! counts the NaN scores seen, so callers can report them.
//!
//! # Lengths
//! When `pred`/`scores` and `target` have different lengths, only the common prefix is
//! used (zip semantics). Functions returning `f64` give `NaN` when there is nothing to
//! average (empty input); [`Evaluation`] turns those into `None`.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// Maps NaN to `-inf` so that it ranks lowest; other values unchanged.
#[inline]
fn rank_value(x: f32) -> f64 {
    if x.is_nan() {
        f64::NEG_INFINITY
    } else {
        x as f64
    }
}

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

/// Inverse of the standard normal CDF, Wichura's algorithm AS241 (PPND16), accurate to
/// about 1e-16 relative. `p` must lie in (0, 1); 0 and 1 give `-inf` / `+inf`, anything
/// else outside (or NaN) gives NaN.
// The coefficients are the published ones (Wichura 1988), kept at full length.
#[allow(clippy::excessive_precision)]
pub fn inverse_normal_cdf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        let num = (((((((2.509_080_928_730_122_7e3 * r + 3.343_057_558_358_812_8e4) * r
            + 6.726_577_092_700_870_1e4)
            * r
            + 4.592_195_393_154_987_1e4)
            * r
            + 1.373_169_376_550_946_1e4)
            * r
            + 1.971_590_950_306_551_4e3)
            * r
            + 1.331_416_678_917_843_8e2)
            * r
            + 3.387_132_872_796_366_6)
            * q;
        let den = ((((((5.226_495_278_852_854_6e3 * r + 2.872_908_573_572_194_3e4) * r
            + 3.930_789_580_009_271_1e4)
            * r
            + 2.121_379_430_158_659_6e4)
            * r
            + 5.394_196_021_424_751e3)
            * r
            + 6.871_870_074_920_579e2)
            * r
            + 4.231_333_070_160_091e1)
            * r
            + 1.0;
        return num / den;
    }
    let mut r = if q <= 0.0 { p } else { 1.0 - p };
    r = (-r.ln()).sqrt();
    let x = if r <= 5.0 {
        r -= 1.6;
        let num = ((((((7.745_450_142_783_414e-4 * r + 2.272_384_498_926_918_5e-2) * r
            + 2.417_807_251_774_506e-1)
            * r
            + 1.270_458_252_452_368_4)
            * r
            + 3.647_848_324_763_204_6)
            * r
            + 5.769_497_221_460_691)
            * r
            + 4.630_337_846_156_545)
            * r
            + 1.423_437_110_749_683_6;
        let den = ((((((1.050_750_071_644_416_8e-9 * r + 5.475_938_084_995_345e-4) * r
            + 1.519_866_656_361_645_7e-2)
            * r
            + 1.481_039_764_274_800_8e-1)
            * r
            + 6.897_673_349_851e-1)
            * r
            + 1.676_384_830_183_803_8)
            * r
            + 2.053_191_626_637_758_8)
            * r
            + 1.0;
        num / den
    } else {
        r -= 5.0;
        let num = ((((((2.010_334_399_292_288_1e-7 * r + 2.711_555_568_743_487_6e-5) * r
            + 1.242_660_947_388_078_4e-3)
            * r
            + 2.653_218_952_657_612_3e-2)
            * r
            + 2.965_605_718_285_048_9e-1)
            * r
            + 1.784_826_539_917_291_3)
            * r
            + 5.463_784_911_164_114)
            * r
            + 6.657_904_643_501_103_8;
        let den = ((((((2.044_263_103_389_939_8e-15 * r + 1.421_511_758_316_445_9e-7) * r
            + 1.846_318_317_510_054_7e-5)
            * r
            + 7.868_691_311_456_132_6e-4)
            * r
            + 1.487_536_129_085_061_5e-2)
            * r
            + 1.369_298_809_227_358e-1)
            * r
            + 5.998_322_065_558_879_4e-1)
            * r
            + 1.0;
        num / den
    };
    if q < 0.0 {
        -x
    } else {
        x
    }
}

/// d-prime from an AUC: `sqrt(2) * Phi^{-1}(auc)`, with `auc` clamped to
/// `(1e-12, 1 - 1e-12)` so that a perfect (or perfectly wrong) classifier gives a large
/// finite value. NaN gives NaN.
pub fn d_prime(auc: f64) -> f64 {
    if auc.is_nan() {
        return f64::NAN;
    }
    std::f64::consts::SQRT_2 * inverse_normal_cdf(auc.clamp(1e-12, 1.0 - 1e-12))
}

/// Whether an evaluation is single-label (one class per clip) or multi-label (tagging).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// One class per sample; the primary metric is accuracy.
    SingleLabel,
    /// Any number of classes per sample; the primary metric is mAP.
    MultiLabel,
}

/// Summary of one evaluation. Metrics are fractions in `[0, 1]` (d-prime excepted);
/// `None` where a metric is undefined or does not apply.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Single- or multi-label.
    pub task: TaskKind,
    /// Top-1 accuracy (single-label only).
    pub accuracy: Option<f64>,
    /// Top-5 accuracy (single-label with more than 5 classes only).
    pub top5: Option<f64>,
    /// Mean average precision over classes with positives (for single-label tasks:
    /// one-vs-rest).
    pub map: Option<f64>,
    /// Mean ROC AUC over classes with positives and negatives.
    pub auc: Option<f64>,
    /// d-prime of the mean AUC.
    pub d_prime: Option<f64>,
    /// Number of samples evaluated.
    pub n: usize,
    /// Number of NaN scores seen (ranked lowest; see the module docs).
    pub n_nan: usize,
}

impl Evaluation {
    /// The paper's headline metric: `("accuracy", acc)` for single-label tasks,
    /// `("mAP", map)` for multi-label ones. The value is NaN when undefined.
    pub fn primary(&self) -> (&'static str, f64) {
        match self.task {
            TaskKind::SingleLabel => ("accuracy", self.accuracy.unwrap_or(f64::NAN)),
            TaskKind::MultiLabel => ("mAP", self.map.unwrap_or(f64::NAN)),
        }
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn count_nan(probs: &[Vec<f32>]) -> usize {
    probs.iter().flatten().filter(|x| x.is_nan()).count()
}

/// Evaluates single-label predictions. `probs` is `[n][classes]` (probabilities or any
/// scores ranked the same way), `target` the true class of each sample.
///
/// Gives accuracy, top-5 accuracy (when there are more than 5 classes), and one-vs-rest
/// mAP, mean AUC and d-prime. Never panics: NaN scores rank lowest, extra rows or
/// targets beyond the shorter of the two are ignored, an empty input gives `None`s.
pub fn evaluate_single_label(probs: &[Vec<f32>], target: &[usize]) -> Evaluation {
    let n = probs.len().min(target.len());
    let probs = &probs[..n];
    let target = &target[..n];
    let n_cls = probs.iter().map(Vec::len).max().unwrap_or(0);
    let pred: Vec<usize> = probs
        .iter()
        .map(|row| argmax(row).unwrap_or(usize::MAX))
        .collect();
    let onehot: Vec<Vec<bool>> = target
        .iter()
        .map(|&t| (0..n_cls).map(|c| c == t).collect())
        .collect();
    let auc = finite(mean_roc_auc(probs, &onehot));
    Evaluation {
        task: TaskKind::SingleLabel,
        accuracy: finite(accuracy(&pred, target)),
        top5: if n_cls > 5 {
            finite(top_k_accuracy(probs, target, 5))
        } else {
            None
        },
        map: finite(mean_average_precision(probs, &onehot)),
        auc,
        d_prime: auc.map(d_prime),
        n,
        n_nan: count_nan(probs),
    }
}

/// Evaluates multi-label predictions. `probs` and `targets` are `[n][classes]`.
///
/// Gives mAP (macro over classes with positives), mean AUC and d-prime; accuracy and
/// top-5 are `None`. Never panics (see [`evaluate_single_label`]).
pub fn evaluate_multi_label(probs: &[Vec<f32>], targets: &[Vec<bool>]) -> Evaluation {
    let n = probs.len().min(targets.len());
    let probs = &probs[..n];
    let targets = &targets[..n];
    let auc = finite(mean_roc_auc(probs, targets));
    Evaluation {
        task: TaskKind::MultiLabel,
        accuracy: None,
        top5: None,
        map: finite(mean_average_precision(probs, targets)),
        auc,
        d_prime: auc.map(d_prime),
        n,
        n_nan: count_nan(probs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    fn b(v: &[u8]) -> Vec<bool> {
        v.iter().map(|&x| x != 0).collect()
    }

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

    #[test]
    fn single_label_evaluation_matches_sklearn() {
        let p: Vec<Vec<f32>> = vec![
            vec![0.7, 0.2, 0.1],
            vec![0.3, 0.4, 0.3],
            vec![0.1, 0.1, 0.8],
            vec![0.5, 0.3, 0.2],
            vec![0.2, 0.5, 0.3],
        ];
        let t = [0, 2, 2, 1, 1];
        let e = evaluate_single_label(&p, &t);
        assert_eq!(e.primary().0, "accuracy");
        assert!(close(e.accuracy.unwrap(), 0.6, 1e-12));
        assert_eq!(e.top5, None); // only 3 classes
        assert!(close(e.map.unwrap(), 0.8888888888888888, 1e-12));
        assert!(close(e.auc.unwrap(), 0.9166666666666666, 1e-12));
        assert_eq!(e.n, 5);
        assert_eq!(e.n_nan, 0);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["task"], "single_label");
        assert!(json["top5"].is_null());
        assert_eq!(json["n"], 5);
    }

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

    #[test]
    fn top5_with_many_classes() {
        let p: Vec<Vec<f32>> = vec![
            (0..10).map(|i| i as f32).collect(), // target 9 is top-1
            (0..10).map(|i| i as f32).collect(), // target 5 is rank 5
            (0..10).map(|i| i as f32).collect(), // target 4 is rank 6
        ];
        let e = evaluate_single_label(&p, &[9, 5, 4]);
        assert!(close(e.accuracy.unwrap(), 1.0 / 3.0, 1e-12));
        assert!(close(e.top5.unwrap(), 2.0 / 3.0, 1e-12));
    }

    #[test]
    fn d_prime_values() {
        // sqrt(2) * scipy.stats.norm.ppf(auc)
        assert!(d_prime(0.5).abs() < 1e-15);
        assert!(close(d_prime(0.8413447), 1.414213293122539, 1e-9));
        assert!(close(
            d_prime(0.8413447460685429),
            std::f64::consts::SQRT_2,
            1e-9
        ));
        assert!(close(d_prime(0.9), 1.8123876048736465, 1e-9));
        assert!(close(d_prime(0.99), 3.289952714266374, 1e-9));
        assert!(close(d_prime(0.01), -3.289952714266374, 1e-9));
        assert!(close(d_prime(0.999999), 6.7223571252430805, 1e-9));
        // Clamped, finite at the ends.
        assert!(d_prime(1.0).is_finite() && d_prime(1.0) > 9.0);
        assert!(d_prime(0.0).is_finite() && d_prime(0.0) < -9.0);
        assert!(d_prime(f64::NAN).is_nan());
        // Symmetry and monotonicity over a sweep.
        let mut prev = f64::NEG_INFINITY;
        for i in 1..1000 {
            let p = i as f64 / 1000.0;
            let z = inverse_normal_cdf(p);
            assert!(z > prev);
            assert!(close(z, -inverse_normal_cdf(1.0 - p), 1e-12));
            prev = z;
        }
    }

    #[test]
    fn nan_scores_never_panic_and_rank_lowest() {
        let s = [f32::NAN, 0.8, 0.7, f32::NAN];
        let y = b(&[1, 0, 1, 0]);
        let ap = average_precision(&s, &y).unwrap();
        assert!(ap.is_finite());
        // Ranking: 0.8 (neg), 0.7 (pos), then the two NaN tied (pos, neg):
        // steps (R=0, P=0), (R=0.5, P=1/2), (R=1, P=2/4) -> 0.25 + 0.25
        assert!(close(ap, 0.5, 1e-12));
        assert!(roc_auc(&s, &y).unwrap().is_finite());
        assert_eq!(argmax(&[f32::NAN, 0.1, f32::NAN]), Some(1));
        assert_eq!(argmax(&[]), None);
        let p = vec![vec![f32::NAN, f32::NAN], vec![0.2, 0.8]];
        let e = evaluate_single_label(&p, &[1, 1]);
        assert_eq!(e.n_nan, 2);
        assert!(close(e.accuracy.unwrap(), 0.5, 1e-12));
        let e = evaluate_multi_label(&[vec![f32::NAN]], &[vec![true]]);
        assert_eq!(e.n_nan, 1);
        assert!(e.auc.is_none());
        let e = evaluate_single_label(&[], &[]);
        assert_eq!(e.n, 0);
        assert_eq!(e.accuracy, None);
        assert!(e.primary().1.is_nan());
        // Ragged rows and mismatched lengths are tolerated.
        let e = evaluate_single_label(&[vec![0.1], vec![0.3, 0.7, 0.0]], &[0, 1, 2]);
        assert_eq!(e.n, 2);
    }
}
