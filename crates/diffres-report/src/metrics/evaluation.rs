//! The [`Evaluation`] summary of a whole evaluation, for single- and multi-label tasks.

use serde::{Deserialize, Serialize};

use super::{
    accuracy, argmax, average_precision, confusion_matrix, d_prime, mean_average_precision,
    mean_roc_auc, top_k_accuracy,
};

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
    /// Number of NaN scores seen (ranked lowest; see the [`metrics`](crate::metrics)
    /// module docs).
    pub n_nan: usize,
    /// Average precision of each class (one-vs-rest for single-label tasks); `None` for a
    /// class without positives. Empty in files written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_class_ap: Vec<Option<f64>>,
    /// Accuracy of each class: the fraction of its samples predicted as it (single-label
    /// only); `None` for a class without samples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_class_accuracy: Vec<Option<f64>>,
    /// Confusion matrix, `confusion[true][predicted]` sample counts (single-label only; a
    /// sample whose scores are all NaN has no prediction and is not counted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confusion: Vec<Vec<usize>>,
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

/// Each class's average precision (column `c` of `probs` against column `c` of `targets`).
fn per_class_ap(probs: &[Vec<f32>], targets: &[Vec<bool>], classes: usize) -> Vec<Option<f64>> {
    (0..classes)
        .map(|c| {
            let scores: Vec<f32> = probs
                .iter()
                .map(|r| r.get(c).copied().unwrap_or(f32::NAN))
                .collect();
            let pos: Vec<bool> = targets
                .iter()
                .map(|t| t.get(c).copied().unwrap_or(false))
                .collect();
            average_precision(&scores, &pos)
        })
        .collect()
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
    let confusion = confusion_matrix(&pred, target, n_cls);
    let mut support = vec![0usize; n_cls];
    for &t in target.iter().filter(|&&t| t < n_cls) {
        support[t] += 1;
    }
    let per_class_accuracy = (0..n_cls)
        .map(|c| (support[c] > 0).then(|| confusion[c][c] as f64 / support[c] as f64))
        .collect();
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
        per_class_ap: per_class_ap(probs, &onehot, n_cls),
        per_class_accuracy,
        confusion,
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
        per_class_ap: per_class_ap(
            probs,
            targets,
            probs.iter().map(Vec::len).max().unwrap_or(0),
        ),
        per_class_accuracy: Vec::new(),
        confusion: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::close;
    use super::*;

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
        // Per class, by hand: predictions 0, 1, 2, 0, 1 for targets 0, 2, 2, 1, 1.
        assert_eq!(
            e.confusion,
            vec![vec![1, 0, 0], vec![1, 1, 0], vec![0, 1, 1]]
        );
        assert_eq!(e.per_class_accuracy, vec![Some(1.0), Some(0.5), Some(0.5)]);
        // Class 0: scores 0.7 (pos), 0.5, 0.3, 0.2, 0.1: AP 1. Class 1: 0.5 (pos), 0.4, 0.3
        // (pos), 0.2, 0.1: AP (1 + 2/3) / 2. Class 2: 0.8 (pos), 0.3 (pos, tied with a
        // negative), ...: AP (1 + 2/3) / 2. Their mean is the mAP above.
        let ap: Vec<f64> = e.per_class_ap.iter().map(|a| a.unwrap()).collect();
        assert!(close(ap[0], 1.0, 1e-12));
        assert!(close(ap[1], 5.0 / 6.0, 1e-12), "{ap:?}");
        assert!(close(ap[2], 5.0 / 6.0, 1e-12), "{ap:?}");
        let back: Evaluation = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn multi_label_per_class_ap_and_old_files() {
        let p = vec![vec![0.9, 0.1], vec![0.2, 0.8], vec![0.6, 0.3]];
        let t = vec![vec![true, false], vec![false, true], vec![false, false]];
        let e = evaluate_multi_label(&p, &t);
        assert_eq!(e.per_class_ap, vec![Some(1.0), Some(1.0)]);
        assert!(e.confusion.is_empty() && e.per_class_accuracy.is_empty());
        let mut json = serde_json::to_value(&e).unwrap();
        let m = json.as_object_mut().unwrap();
        m.remove("per_class_ap");
        let old: Evaluation = serde_json::from_value(json).unwrap();
        assert!(old.per_class_ap.is_empty());
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
}
