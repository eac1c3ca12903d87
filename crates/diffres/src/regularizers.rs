//! Guide loss (paper eq. 7) and activeness (eq. 4), per sample and robust to quiet clips.

use burn::prelude::*;
use burn::tensor::activation::relu;

/// Which frames count as empty: their mean linear energy is below `eps` times the sample's
/// loudest frame. Returns `(empty, active)` masks `[B, T]` (float 0/1, detached), both limited
/// to valid frames.
///
/// # Shapes
/// - `energy`: `[B, T]` each frame's mean linear-scale energy (any per-sample scale, e.g.
///   [`crate::Warped::energy`]), `valid`: `[B, T]`
pub fn empty_frames(energy: Tensor<2>, valid: Tensor<2>, eps: f64) -> (Tensor<2>, Tensor<2>) {
    let energy = energy.detach();
    let loudest = (energy.clone() * valid.clone()).max_dim(1); // [B, 1]
    let empty = energy.lower(loudest * eps).float() * valid.clone();
    let active = valid - empty.clone();
    (empty, active)
}

/// Guide loss: per sample, the mean over its empty frames of `relu(s / (1 - delta) - lambda)`,
/// averaged over the samples that have empty frames; 0 when none has (never NaN).
///
/// The paper writes `s / delta`; the reference gates on `s > (1 - delta) lambda`, i.e.
/// `s / (1 - delta) > lambda`, which is what is used here.
///
/// # Shapes
/// - `score`: `[B, T]`, `empty`: `[B, T]`; output `[1]`
pub fn guide_loss(score: Tensor<2>, empty: Tensor<2>, delta: f64, lambda: f64) -> Tensor<1> {
    let count = empty.clone().sum_dim(1); // [B, 1]
    let penalty = relu(score / (1.0 - delta) - lambda) * empty;
    let per_sample = penalty.sum_dim(1) / count.clone().clamp_min(1.0);
    let has = count.greater_elem(0.0).float();
    let n = has.clone().sum().clamp_min(1.0);
    (per_sample * has).sum() / n
}

/// Activeness: the (population) standard deviation of the scores over each sample's active
/// frames, divided by `delta` (not divided when `delta == 0`), averaged over the samples with
/// active frames. Detached: a diagnostic, not a loss.
///
/// # Shapes
/// - `score`: `[B, T]`, `active`: `[B, T]`; output `[1]`
pub fn activeness(score: Tensor<2>, active: Tensor<2>, delta: f64) -> Tensor<1> {
    let score = score.detach();
    let count = active.clone().sum_dim(1); // [B, 1]
    let safe = count.clone().clamp_min(1.0);
    let mean = (score.clone() * active.clone()).sum_dim(1) / safe.clone();
    let var = ((score - mean).powf_scalar(2.0) * active).sum_dim(1) / safe;
    let has = count.greater_elem(0.0).float();
    let n = has.clone().sum().clamp_min(1.0);
    let scale = if delta > 0.0 { 1.0 / delta } else { 1.0 };
    (var.sqrt() * has).sum() / n * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_guide_loss_and_activeness() {
        let device = Device::flex();
        // Sample 0: frames 0 and 3 are silent. Sample 1 has no silent frame.
        let linear = Tensor::<3>::from_data(
            [
                [[0.0f32, 0.0], [1.0, 1.0], [2.0, 2.0], [1e-6, 0.0]],
                [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]],
            ],
            &device,
        );
        let valid = Tensor::<2>::ones([2, 4], &device);
        let energy = linear.mean_dim(2).reshape([2, 4]);
        let (empty, active) = empty_frames(energy, valid, crate::DEFAULT_EMPTY_EPS);
        empty.clone().into_data().assert_eq(
            &TensorData::from([[1.0f32, 0.0, 0.0, 1.0], [0.0; 4]]),
            false,
        );
        let score =
            Tensor::<2>::from_data([[0.9f32, 0.2, 0.4, 0.1], [0.5, 0.5, 0.5, 0.5]], &device);
        // delta 0.5: relu(0.9 / 0.5 - 0.5) = 1.3, relu(0.1 / 0.5 - 0.5) = 0 -> mean 0.65 over
        // one sample that has empty frames.
        let g: f32 = guide_loss(score.clone(), empty, 0.5, 0.5).into_scalar();
        assert!((g - 0.65).abs() < 1e-6, "{g}");
        // Active frames: [0.2, 0.4] (std 0.1) and [0.5 x 4] (std 0) -> (0.1 + 0) / 2 / 0.5 = 0.1
        let a: f32 = activeness(score, active, 0.5).into_scalar();
        assert!((a - 0.1).abs() < 1e-6, "{a}");
    }
}
