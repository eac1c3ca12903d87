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

// Split by topic; everything is re-exported here so `diffres_report::metrics::*` paths are
// the public API whatever file an item lives in.
mod classification;
mod dprime;
mod evaluation;
mod ranking;

pub use classification::{accuracy, argmax, confusion_matrix, top_k_accuracy};
pub use dprime::{d_prime, inverse_normal_cdf};
pub use evaluation::{evaluate_multi_label, evaluate_single_label, Evaluation, TaskKind};
pub use ranking::{average_precision, mean_average_precision, mean_roc_auc, roc_auc};

/// Maps NaN to `-inf` so that it ranks lowest; other values unchanged. Shared by the
/// argmax/top-k code and the AP/AUC rankings so that both follow the NaN policy above.
#[inline]
fn rank_value(x: f32) -> f64 {
    if x.is_nan() {
        f64::NEG_INFINITY
    } else {
        x as f64
    }
}

/// Helpers shared by the unit tests of the metric files.
#[cfg(test)]
mod test_util {
    pub(super) fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    pub(super) fn b(v: &[u8]) -> Vec<bool> {
        v.iter().map(|&x| x != 0).collect()
    }
}

// The NaN policy spans every file here (argmax, AP, AUC and the summaries), so its test
// lives with the module docs that state it.
#[cfg(test)]
mod tests {
    use super::test_util::{b, close};
    use super::*;

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
