//! The multi-head attention pooling of PSLA (Gong et al. 2021, `MHeadAttention`).

use std::fmt;
use std::str::FromStr;

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use serde::{Deserialize, Serialize};

use crate::cpu::attention_pool::{attention_pool, AttentionDims, AttentionTensors};
use crate::error::ModelError;

/// Lower clamp of the attention weights (PSLA's `epsilon`).
pub const ATTENTION_EPSILON: f64 = 1e-7;

/// Frequency bins PSLA's `AvgPool2d((4, 1))` averages into the one row its head reads.
pub const PSLA_FREQUENCY_POOL: usize = 4;

/// What the attention pooling returns. Serialised and parsed as `logits` and `psla`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClassifierHead {
    /// Class logits: no sigmoid on the classification branch, so the output feeds a softmax
    /// cross-entropy (single-label) or a sigmoid BCE (multi-label); the mean over every
    /// frequency bin; TF-style "same" padding in the backbone.
    #[default]
    #[serde(rename = "logits")]
    Logits,
    /// PSLA's model exactly: a sigmoid on both branches, so the output is probabilities
    /// (trained with BCE on them); PSLA's `AvgPool2d((4, 1))` frequency pooling (the mean of
    /// the first 4 frequency bins of the feature map, all of them when there are fewer); and
    /// `efficientnet_pytorch`'s static "same" padding, computed for its nominal image size
    /// (224 for B0, 260 for B2) whatever the input. A PSLA checkpoint then gives PSLA's
    /// outputs.
    #[serde(rename = "psla")]
    Psla,
}

impl ClassifierHead {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            ClassifierHead::Logits => "logits",
            ClassifierHead::Psla => "psla",
        }
    }

    /// Whether the classifier's output is probabilities (else logits).
    pub fn outputs_probabilities(self) -> bool {
        self == ClassifierHead::Psla
    }
}

impl fmt::Display for ClassifierHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ClassifierHead {
    type Err = ModelError;

    /// `logits` or `psla`, case-insensitive.
    fn from_str(s: &str) -> Result<Self, ModelError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "logits" => Ok(ClassifierHead::Logits),
            "psla" => Ok(ClassifierHead::Psla),
            other => Err(ModelError::Config(format!(
                "head '{other}': expected logits or psla"
            ))),
        }
    }
}

/// Configuration of [`MHeadAttention`].
#[derive(Config, Debug)]
pub struct MHeadAttentionConfig {
    /// Channels of the feature map (1280 for EfficientNet-B0, 1408 for B2).
    pub in_channels: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// Number of heads (PSLA uses 4).
    #[config(default = 4)]
    pub heads: usize,
    /// Logits (ours) or probabilities (PSLA's).
    #[config(default = "ClassifierHead::Logits")]
    pub head: ClassifierHead,
}

impl MHeadAttentionConfig {
    /// Builds the pooling layer. Like PSLA's `MHeadAttention`, whose 1x1 convolutions keep
    /// PyTorch's default initialisation (it defines no `init_weights`), weights and biases are
    /// drawn from `U(-1/sqrt(C), 1/sqrt(C))` (Burn's default [`LinearConfig`] initialiser);
    /// head weights are `1 / heads`.
    ///
    /// # Panics
    /// If `in_channels`, `n_classes` or `heads` is zero.
    pub fn init(&self, device: &Device) -> MHeadAttention {
        assert!(
            self.in_channels > 0 && self.n_classes > 0 && self.heads > 0,
            "MHeadAttention needs in_channels, n_classes and heads >= 1"
        );
        let projection = || LinearConfig::new(self.in_channels, self.n_classes).init(device);
        MHeadAttention {
            att: (0..self.heads).map(|_| projection()).collect(),
            cla: (0..self.heads).map(|_| projection()).collect(),
            head_weight: Param::from_tensor(Tensor::full(
                [self.heads],
                1.0 / self.heads as f64,
                device,
            )),
            head: self.head,
        }
    }
}

/// PSLA's multi-head attention pooling, returning class **logits** (or, with
/// [`ClassifierHead::Psla`], PSLA's probabilities).
///
/// For a feature map `[B, C, t', F']` the layer takes the mean over frequency, `h: [B, C, t']`,
/// and for each head `i`:
/// - `att_i = clamp(sigmoid(W_att_i h + b), 1e-7, 1 - 1e-7)`, `[B, n_classes, t']`;
/// - `norm_att_i = att_i / sum_t att_i` (normalised over time);
/// - `cla_i = W_cla_i h + b` (a 1x1 projection over channels, here a [`Linear`]);
/// - `out_i = sum_t norm_att_i * cla_i`;
///
/// and returns `sum_i head_weight_i * out_i` with the learnable `head_weight` initialised to
/// `1 / heads`.
///
/// **Deviation from PSLA.** PSLA applies a sigmoid to `cla` (`cla_activation='sigmoid'`), so
/// it pools probabilities and trains with BCE on them. We pool the class *logits* (no sigmoid
/// on `cla`) so that the output can feed both a softmax cross-entropy (single-label) and a
/// sigmoid BCE (multi-label). Everything else (sigmoid attention, the clamp, normalisation over
/// time, the head weights) follows PSLA. PSLA also averages frequency with `AvgPool2d((4, 1))`
/// on its 4 remaining bins; the mean over frequency is the same for that input and also works
/// for any other number of bins.
///
/// [`ClassifierHead::Psla`] removes both deviations: a sigmoid on `cla` and PSLA's frequency
/// pooling. PSLA's `att`/`cla` are 1x1 convolutions `[classes, C, 1, 1]`; here they are
/// [`Linear`] layers with weights `[C, classes]` (the same numbers, transposed).
#[derive(Module, Debug)]
pub struct MHeadAttention {
    pub(crate) att: Vec<Linear>,
    pub(crate) cla: Vec<Linear>,
    pub(crate) head_weight: Param<Tensor<1>>,
    #[module(skip)]
    head: ClassifierHead,
}

impl MHeadAttention {
    /// Pools a 2-D feature map over frequency (mean) and time (attention).
    ///
    /// # Shapes
    /// - `x`: `[B, C, t', F']`
    /// - output: `[B, n_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let [batch, channels, time, freq] = x.dims();
        let x = match self.head {
            // PSLA's AvgPool2d((4, 1)) keeps floor(F' / 4) rows and its head reads row 0.
            ClassifierHead::Psla if freq > PSLA_FREQUENCY_POOL => {
                x.narrow(3, 0, PSLA_FREQUENCY_POOL)
            }
            _ => x,
        };
        if let Some(y) = self.fast_forward(&x) {
            return y;
        }
        self.forward_sequence(x.mean_dim(3).reshape([batch, channels, time]))
    }

    /// [`Self::forward`] through the flex host kernel, where it applies.
    fn fast_forward(&self, x: &Tensor<4>) -> Option<Tensor<2>> {
        if !crate::cpu::enabled() || x.dims().contains(&0) {
            return None;
        }
        let [batch, channels, time, freq] = x.dims();
        let stack_weights = |layers: &[Linear]| {
            Tensor::stack::<3>(layers.iter().map(|l| l.weight.val()).collect(), 0)
        };
        let stack_biases = |layers: &[Linear]| -> Option<Tensor<2>> {
            let biases: Option<Vec<Tensor<1>>> = layers
                .iter()
                .map(|l| l.bias.as_ref().map(|b| b.val()))
                .collect();
            Some(Tensor::stack::<2>(biases?, 0))
        };
        let params = AttentionTensors {
            att: stack_weights(&self.att),
            att_bias: stack_biases(&self.att)?,
            cla: stack_weights(&self.cla),
            cla_bias: stack_biases(&self.cla)?,
            head_weight: self.head_weight.val(),
        };
        let [heads, in_channels, classes] = params.att.dims();
        if in_channels != channels {
            return None;
        }
        let dims = AttentionDims {
            batch,
            channels,
            time,
            freq,
            heads,
            classes,
            probabilities: self.head == ClassifierHead::Psla,
            clamp: [ATTENTION_EPSILON as f32, (1.0 - ATTENTION_EPSILON) as f32],
        };
        attention_pool(x, &params, dims)
    }

    /// Pools a sequence over time.
    ///
    /// # Shapes
    /// - `x`: `[B, C, t']`
    /// - output: `[B, n_classes]`
    pub fn forward_sequence(&self, x: Tensor<3>) -> Tensor<2> {
        let [batch, _, _] = x.dims();
        let h = x.swap_dims(1, 2); // [B, t', C]
        let weights = self.head_weight.val();
        let mut out: Option<Tensor<3>> = None;
        for (i, (att, cla)) in self.att.iter().zip(&self.cla).enumerate() {
            let a =
                sigmoid(att.forward(h.clone())).clamp(ATTENTION_EPSILON, 1.0 - ATTENTION_EPSILON); // [B, t', K]
            let norm = a.clone() / a.sum_dim(1); // normalised over time
            let logits = match self.head {
                ClassifierHead::Logits => cla.forward(h.clone()),
                ClassifierHead::Psla => sigmoid(cla.forward(h.clone())),
            }; // [B, t', K]
            let w = weights.clone().narrow(0, i, 1).reshape([1, 1, 1]);
            let head = (norm * logits).sum_dim(1) * w; // [B, 1, K]
            out = Some(match out {
                Some(acc) => acc + head,
                None => head,
            });
        }
        let out = out.expect("at least one head");
        let classes = out.dims()[2];
        out.reshape([batch, classes])
    }

    /// Number of heads.
    pub fn heads(&self) -> usize {
        self.att.len()
    }

    /// Logits or probabilities.
    pub fn head(&self) -> ClassifierHead {
        self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets every projection from closures `(head, channel, class) -> weight` and
    /// `(head, class) -> bias`.
    fn set(
        layers: &mut [Linear],
        device: &Device,
        c: usize,
        k: usize,
        w: impl Fn(usize, usize, usize) -> f32,
        b: impl Fn(usize, usize) -> f32,
    ) {
        for (i, layer) in layers.iter_mut().enumerate() {
            let weight: Vec<f32> = (0..c)
                .flat_map(|ci| (0..k).map(move |ki| (ci, ki)))
                .map(|(ci, ki)| w(i, ci, ki))
                .collect();
            layer.weight = Param::from_tensor(
                Tensor::<1>::from_floats(weight.as_slice(), device).reshape([c, k]),
            );
            let bias: Vec<f32> = (0..k).map(|ki| b(i, ki)).collect();
            layer.bias = Some(Param::from_tensor(Tensor::<1>::from_floats(
                bias.as_slice(),
                device,
            )));
        }
    }

    #[test]
    fn uniform_attention_is_the_time_mean_of_the_logits() {
        // Zero attention weights: sigmoid(0) = 0.5 everywhere, so every head averages over
        // time; cla = identity-like projection of channel 0, head weights sum to 1.
        let device = Device::flex();
        let mut pool = MHeadAttentionConfig::new(2, 1).init(&device);
        set(&mut pool.att, &device, 2, 1, |_, _, _| 0.0, |_, _| 0.0);
        set(
            &mut pool.cla,
            &device,
            2,
            1,
            |_, c, _| if c == 0 { 1.0 } else { 0.0 },
            |_, _| 0.0,
        );
        // x: [1, 2, 3, 2]; channel 0 over time (mean over F) = 1, 2, 6 -> mean 3.
        let x = Tensor::<1>::from_floats(
            [0.5, 1.5, 2.0, 2.0, 5.0, 7.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0],
            &device,
        )
        .reshape([1, 2, 3, 2]);
        let out = pool.forward(x).into_data().try_to_vec::<f32>().unwrap();
        assert!((out[0] - 3.0).abs() < 1e-5, "{out:?}");
    }

    #[test]
    fn pooling_matches_a_hand_computation() {
        let device = Device::flex();
        let (b, c, t, k, heads) = (2, 3, 4, 2, 4);
        let mut pool = MHeadAttentionConfig::new(c, k).init(&device);
        let watt = |i: usize, ci: usize, ki: usize| {
            0.3 * (i as f32 + 1.0) * ((ci + 2 * ki) as f32 - 1.5) / 3.0
        };
        let batt = |i: usize, ki: usize| 0.1 * i as f32 - 0.2 * ki as f32;
        let wcla = |i: usize, ci: usize, ki: usize| ((i + ci * 3 + ki * 5) % 7) as f32 / 7.0 - 0.4;
        let bcla = |i: usize, ki: usize| 0.05 * (i + ki) as f32;
        set(&mut pool.att, &device, c, k, watt, batt);
        set(&mut pool.cla, &device, c, k, wcla, bcla);
        let hw = [0.1f32, 0.2, 0.3, 0.4];
        pool.head_weight = Param::from_tensor(Tensor::<1>::from_floats(hw, &device));
        // A [B, C, t, 1] feature map: frequency mean is the value itself.
        let value =
            |bi: usize, ci: usize, ti: usize| ((bi * 11 + ci * 5 + ti * 3) % 9) as f32 / 2.0 - 2.0;
        let data: Vec<f32> = (0..b)
            .flat_map(|bi| (0..c).flat_map(move |ci| (0..t).map(move |ti| (bi, ci, ti))))
            .map(|(bi, ci, ti)| value(bi, ci, ti))
            .collect();
        let x = Tensor::<1>::from_floats(data.as_slice(), &device).reshape([b, c, t, 1]);
        let got = pool.forward(x).into_data().try_to_vec::<f32>().unwrap();

        for bi in 0..b {
            for ki in 0..k {
                let mut expected = 0.0f64;
                for (i, &head_w) in hw.iter().enumerate().take(heads) {
                    let mut att = vec![0.0f64; t];
                    let mut cla = vec![0.0f64; t];
                    for ti in 0..t {
                        let mut za = batt(i, ki) as f64;
                        let mut zc = bcla(i, ki) as f64;
                        for ci in 0..c {
                            za += watt(i, ci, ki) as f64 * value(bi, ci, ti) as f64;
                            zc += wcla(i, ci, ki) as f64 * value(bi, ci, ti) as f64;
                        }
                        att[ti] = (1.0 / (1.0 + (-za).exp())).clamp(1e-7, 1.0 - 1e-7);
                        cla[ti] = zc;
                    }
                    let total: f64 = att.iter().sum();
                    let head: f64 = att.iter().zip(&cla).map(|(a, l)| a / total * l).sum();
                    expected += head_w as f64 * head;
                }
                let g = got[bi * k + ki] as f64;
                assert!(
                    (g - expected).abs() < 1e-5,
                    "b {bi} k {ki}: {g} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn attention_parameter_count() {
        let device = Device::flex();
        let pool = MHeadAttentionConfig::new(1408, 527).init(&device);
        // 4 heads x 2 projections x (1408 x 527 + 527) + 4 head weights.
        assert_eq!(crate::trainable_params(&pool), 8 * (1408 * 527 + 527) + 4);
        assert_eq!(crate::trainable_params(&pool), 5_940_348);
    }
}
