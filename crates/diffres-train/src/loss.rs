//! Classification losses: on logits, or on probabilities for PSLA's head; which one a run
//! trains with ([`LossKind`], [`OutputKind`]).

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};
use diffres_models::ClassifierHead;

use crate::error::{Result, TrainError};

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

/// The classification loss a run trains with, as a user chooses it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// Binary cross-entropy for multi-label tasks and with PSLA's head, softmax cross-entropy
    /// for single-label tasks with logits.
    #[default]
    Auto,
    /// Binary cross-entropy whatever the task (the paper's equation 8; PSLA's `--loss BCE`,
    /// which the authors' recipes use for single-label tasks too).
    Bce,
    /// Softmax cross-entropy (single-label tasks with the logits head only).
    Ce,
}

impl LossKind {
    /// The name used on the command line and in `config.json`.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Auto => "auto",
            LossKind::Bce => "bce",
            LossKind::Ce => "ce",
        }
    }
}

impl std::fmt::Display for LossKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for LossKind {
    type Err = TrainError;

    /// `auto`, `bce` or `ce`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(LossKind::Auto),
            "bce" => Ok(LossKind::Bce),
            "ce" => Ok(LossKind::Ce),
            other => Err(TrainError::Config(format!(
                "--loss '{other}': expected auto, bce or ce"
            ))),
        }
    }
}

/// What a classifier's output is, which fixes both its loss and its probabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// PSLA's head: probabilities already, trained with BCE on them.
    Probabilities,
    /// Logits of independent classes: sigmoid probabilities, BCE with logits.
    IndependentLogits,
    /// Logits of exclusive classes: softmax probabilities, cross-entropy.
    ExclusiveLogits,
}

impl OutputKind {
    /// The output of a classifier with `head` trained with `loss` on a task.
    ///
    /// # Errors
    /// `ce` with PSLA's head (it outputs probabilities, not logits) or on multi-label data.
    pub fn new(loss: LossKind, head: ClassifierHead, multi_label: bool) -> Result<Self> {
        match (loss, head.outputs_probabilities(), multi_label) {
            (LossKind::Ce, true, _) => Err(TrainError::Config(
                "--loss ce needs logits: PSLA's head (--head psla) outputs probabilities and \
                 trains with bce"
                    .into(),
            )),
            (LossKind::Ce, false, true) => Err(TrainError::Config(
                "--loss ce is for single-label data: this dataset is multi-label (use bce)".into(),
            )),
            (_, true, _) => Ok(OutputKind::Probabilities),
            (LossKind::Bce, false, _) | (LossKind::Auto, false, true) => {
                Ok(OutputKind::IndependentLogits)
            }
            (LossKind::Ce | LossKind::Auto, false, false) => Ok(OutputKind::ExclusiveLogits),
        }
    }

    /// Class probabilities from the output `[B, C]`, row-major on the host (PSLA's head's
    /// clamped to `[0, 1]`).
    pub fn probabilities(self, output: Tensor<2>) -> Vec<f32> {
        let p = match self {
            OutputKind::Probabilities => output.clamp(0.0, 1.0),
            OutputKind::IndependentLogits => burn::tensor::activation::sigmoid(output),
            OutputKind::ExclusiveLogits => burn::tensor::activation::softmax(output, 1),
        };
        p.into_data()
            .convert::<f32>()
            .try_to_vec()
            .expect("float data")
    }

    /// The classification loss of the output against the targets.
    ///
    /// # Shapes
    /// - `output`, `targets`: `[B, C]`; output `[1]`
    pub fn loss(self, output: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
        match self {
            OutputKind::Probabilities => binary_cross_entropy_on_probabilities(output, targets),
            OutputKind::IndependentLogits => binary_cross_entropy(output, targets),
            OutputKind::ExclusiveLogits => cross_entropy(output, targets),
        }
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
        let output = OutputKind::new(LossKind::Auto, ClassifierHead::Psla, false).unwrap();
        let got: f32 = output.loss(p, y).into_scalar();
        let want = -(0.5f32.ln() + 0.1f32.ln() + 0.8f32.ln() + (1.0f32 - 1e-7).ln()) / 4.0;
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn the_loss_follows_the_choice_and_refuses_what_cannot_work() {
        use ClassifierHead::{Logits, Psla};
        let kind = |loss, head, multi| OutputKind::new(loss, head, multi);
        assert_eq!(
            kind(LossKind::Auto, Logits, false).unwrap(),
            OutputKind::ExclusiveLogits
        );
        assert_eq!(
            kind(LossKind::Auto, Logits, true).unwrap(),
            OutputKind::IndependentLogits
        );
        assert_eq!(
            kind(LossKind::Bce, Logits, false).unwrap(),
            OutputKind::IndependentLogits
        );
        assert_eq!(
            kind(LossKind::Bce, Psla, false).unwrap(),
            OutputKind::Probabilities
        );
        assert!(kind(LossKind::Ce, Psla, false).is_err());
        assert!(kind(LossKind::Ce, Logits, true)
            .unwrap_err()
            .to_string()
            .contains("multi-label"));
        assert_eq!("BCE".parse::<LossKind>().unwrap(), LossKind::Bce);
        assert!("hinge".parse::<LossKind>().is_err());
        // BCE on a single-label task: sigmoid probabilities, the loss of equation 8.
        let device = Device::flex();
        let z = Tensor::<2>::from_data([[0.0f32, 2.0]], &device);
        let y = Tensor::<2>::from_data([[0.0f32, 1.0]], &device);
        let p = OutputKind::IndependentLogits.probabilities(z.clone());
        assert!((p[1] - 1.0 / (1.0 + (-2f32).exp())).abs() < 1e-6);
        let got: f32 = OutputKind::IndependentLogits.loss(z, y).into_scalar();
        let want = (2f32.ln() + (1.0 + (-2f32).exp()).ln()) / 2.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}
