//! Classification losses on logits.

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};

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

/// Classification loss of a task: binary cross-entropy for multi-label tasks, softmax
/// cross-entropy otherwise.
///
/// # Shapes
/// - `logits`, `targets`: `[B, C]`; output `[1]`
pub fn task_loss(multi_label: bool, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    if multi_label {
        binary_cross_entropy(logits, targets)
    } else {
        cross_entropy(logits, targets)
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
}
