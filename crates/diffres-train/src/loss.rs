//! Classification losses: on logits, or on probabilities for PSLA's head.

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};
use diffres_models::ClassifierHead;

/// Probabilities are clamped to `[PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON]` before their
/// logarithm (PSLA's head can slightly leave `[0, 1]`: its head weights are free).
pub const PROBABILITY_EPSILON: f64 = 1e-7;

/// Cross-entropy with soft targets: `-mean_b sum_c y_bc log softmax(z)_bc`.
///
/// # Shapes
/// - `logits`, `targets`: `[B, C]`; output `[1]`
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let [batch, _] = logits.dims();
    -(log_softmax(logits, 1) * targets).sum() / batch as f32
}

/// Binary cross-entropy with logits (stable), averaged over batch and classes (paper eq. 8).
///
/// # Shapes
/// - `logits`, `targets`: `[B, C]`; output `[1]`
pub fn binary_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    // log(1 - sigmoid(z)) = log_sigmoid(-z)
    let positive = log_sigmoid(logits.clone()) * targets.clone();
    let negative = log_sigmoid(-logits) * (-targets + 1.0);
    -(positive + negative).mean()
}

/// Binary cross-entropy on probabilities, averaged over batch and classes: PSLA's
/// `nn.BCELoss` (the probabilities clamped to [`PROBABILITY_EPSILON`] from 0 and 1).
///
/// # Shapes
/// - `probs`, `targets`: `[B, C]`; output `[1]`
pub fn binary_cross_entropy_on_probabilities(probs: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let p = probs.clamp(PROBABILITY_EPSILON, 1.0 - PROBABILITY_EPSILON);
    let positive = p.clone().log() * targets.clone();
    let negative = (-p + 1.0).log() * (-targets + 1.0);
    -(positive + negative).mean()
}

/// Classification loss of a task for the classifier's output: with PSLA's head (probabilities)
/// binary cross-entropy on them, as PSLA trains, whatever the task; with logits binary
/// cross-entropy for multi-label tasks and softmax cross-entropy otherwise.
///
/// # Shapes
/// - `output`, `targets`: `[B, C]`; output `[1]`
pub fn task_loss(
    head: ClassifierHead,
    multi_label: bool,
    output: Tensor<2>,
    targets: Tensor<2>,
) -> Tensor<1> {
    match (head.outputs_probabilities(), multi_label) {
        (true, _) => binary_cross_entropy_on_probabilities(output, targets),
        (false, true) => binary_cross_entropy(output, targets),
        (false, false) => cross_entropy(output, targets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_losses() {
        let device = Device::flex();
        let z = Tensor::<2>::from_data([[0.0f32, 0.0], [2.0, 0.0]], &device);
        let y = Tensor::<2>::from_data([[1.0f32, 0.0], [0.0, 1.0]], &device);
        // ln 2 and ln(1 + e^2) - 0 = 2.126928
        let ce: f32 = cross_entropy(z.clone(), y.clone()).into_scalar();
        assert!((ce - (2f32.ln() + (1.0 + 2f32.exp()).ln()) / 2.0).abs() < 1e-5);
        // BCE: [ln2, ln2, ln(1+e^2)=2.126928, ln(1+e^0)=ln2] / 4
        let bce: f32 = binary_cross_entropy(z, y).into_scalar();
        let want = (3.0 * 2f32.ln() + (1.0 + 2f32.exp()).ln()) / 4.0;
        assert!((bce - want).abs() < 1e-5, "{bce} vs {want}");
    }

    #[test]
    fn bce_on_probabilities_is_pslas_bceloss() {
        let device = Device::flex();
        let p = Tensor::<2>::from_data([[0.5f32, 0.9], [0.2, 1.5]], &device);
        let y = Tensor::<2>::from_data([[1.0f32, 0.0], [0.0, 1.0]], &device);
        // -[ln 0.5 + ln 0.1 + ln 0.8 + ln(1 - 1e-7)] / 4 (1.5 is clamped below 1)
        let got: f32 = task_loss(ClassifierHead::Psla, false, p, y).into_scalar();
        let want = -(0.5f32.ln() + 0.1f32.ln() + 0.8f32.ln() + (1.0f32 - 1e-7).ln()) / 4.0;
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
}
