//! EfficientNet-B0 / B2 (Tan & Le 2019) with the 4-head attention pooling of PSLA.
//!
//! The layout follows the PyTorch reference that PSLA uses (`efficientnet_pytorch`,
//! `EfficientNet.extract_features`): TF-style "same" padding, swish activations, batch norm
//! with momentum 0.01 (PyTorch convention) and epsilon 1e-3, squeeze-excitation on
//! `max(1, in * 0.25)` channels, drop-connect rising linearly with the block index. Field names
//! are the reference's without the leading underscore (`conv_stem`, `bn0`,
//! `blocks.N.depthwise_conv`, ...), so a converted PyTorch checkpoint maps by renaming.
//!
//! PSLA removes the ImageNet classifier (`_fc`) and pools the head's feature map with
//! [`MHeadAttention`]; so do we. No pretrained weights are bundled, but [`crate::load_weights`]
//! initialises from a safetensors file and [`crate::psla`] from PSLA's and
//! `efficientnet_pytorch`'s PyTorch checkpoints.
//!
//! Padding: by default TF-style "same" padding computed from each input ("dynamic", as
//! `efficientnet_pytorch` does without an image size). With [`ClassifierHead::Psla`] the
//! padding of the stride-2 convolutions is `efficientnet_pytorch`'s static padding, computed
//! once for the nominal image size ([`EfficientNetVariant::image_size`]) whatever the input,
//! as in the models PSLA and the ImageNet weights were trained with; it differs from the
//! dynamic one where a stage's actual size is odd (B0) or where the nominal one is (B2).
//! Stride-1 convolutions pad `(k - 1) / 2` on each side either way.

use burn::module::{Flag, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::ops::PadMode;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::attention::{ClassifierHead, MHeadAttention, MHeadAttentionConfig};
use crate::layers::{batch_norm_act, conv2d, squeeze_excite, Activation};

/// One stage of the B0 table: (expand ratio, output channels, repeats, stride, kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage {
    /// Expansion ratio of the inverted bottleneck.
    pub expand: usize,
    /// Output channels (before width scaling).
    pub channels: usize,
    /// Number of blocks (before depth scaling).
    pub repeats: usize,
    /// Stride of the first block.
    pub stride: usize,
    /// Depthwise kernel size.
    pub kernel: usize,
}

/// The EfficientNet-B0 stages.
pub const B0_STAGES: [Stage; 7] = [
    Stage {
        expand: 1,
        channels: 16,
        repeats: 1,
        stride: 1,
        kernel: 3,
    },
    Stage {
        expand: 6,
        channels: 24,
        repeats: 2,
        stride: 2,
        kernel: 3,
    },
    Stage {
        expand: 6,
        channels: 40,
        repeats: 2,
        stride: 2,
        kernel: 5,
    },
    Stage {
        expand: 6,
        channels: 80,
        repeats: 3,
        stride: 2,
        kernel: 3,
    },
    Stage {
        expand: 6,
        channels: 112,
        repeats: 3,
        stride: 1,
        kernel: 5,
    },
    Stage {
        expand: 6,
        channels: 192,
        repeats: 4,
        stride: 2,
        kernel: 5,
    },
    Stage {
        expand: 6,
        channels: 320,
        repeats: 1,
        stride: 1,
        kernel: 3,
    },
];

/// Stem output channels before width scaling.
pub const STEM_CHANNELS: usize = 32;
/// Head output channels before width scaling.
pub const HEAD_CHANNELS: usize = 1280;
/// Squeeze-excitation ratio (of the block's input channels).
pub const SE_RATIO: f64 = 0.25;
/// Batch-norm momentum (PyTorch convention; TF's 0.99).
pub const BN_MOMENTUM: f64 = 0.01;
/// Batch-norm epsilon.
pub const BN_EPSILON: f64 = 1e-3;

/// Which EfficientNet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EfficientNetVariant {
    /// Width 1.0, depth 1.0 (head 1280 channels).
    B0,
    /// Width 1.1, depth 1.2 (head 1408 channels).
    B2,
}

impl EfficientNetVariant {
    /// `(width, depth)` coefficients.
    pub fn coefficients(self) -> (f64, f64) {
        match self {
            EfficientNetVariant::B0 => (1.0, 1.0),
            EfficientNetVariant::B2 => (1.1, 1.2),
        }
    }

    /// Channels of the head's feature map: 1280 (B0), 1408 (B2).
    pub fn head_channels(self) -> usize {
        round_filters(HEAD_CHANNELS, self.coefficients().0)
    }

    /// `efficientnet_pytorch`'s nominal image size (224 for B0, 260 for B2), from which its
    /// static padding is computed.
    pub fn image_size(self) -> usize {
        match self {
            EfficientNetVariant::B0 => 224,
            EfficientNetVariant::B2 => 260,
        }
    }
}

/// The zero padding `efficientnet_pytorch`'s `Conv2dStaticSamePadding` applies around a
/// stride-2 convolution, computed for the nominal image size at that stage: `(before, after)`
/// on both spatial axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticPad {
    /// Zeros before (top, left).
    pub before: usize,
    /// Zeros after (bottom, right).
    pub after: usize,
    kernel: usize,
}

impl StaticPad {
    /// The padding of a `kernel` x `kernel`, `stride` convolution at nominal size `size`, or
    /// `None` for stride 1 (where it equals the dynamic "same" padding).
    pub fn new(size: usize, kernel: usize, stride: usize) -> Option<Self> {
        if stride == 1 {
            return None;
        }
        let (before, after) = crate::layers::same_padding(size, kernel, stride);
        Some(Self {
            before,
            after,
            kernel,
        })
    }

    /// Pads `x` `[B, C, H, W]`. An input too small for the kernel even after padding (PSLA
    /// would fail there) gets the zeros it needs after, for one output row or column.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let after = |n: usize| self.after.max(self.kernel.saturating_sub(n + self.before));
        x.pad(
            [(self.before, after(h)), (self.before, after(w))],
            PadMode::Constant(0.0),
        )
    }
}

/// Scales a channel count by `width` and rounds to a multiple of 8, never more than 10% down
/// (the reference `round_filters`, divisor 8, no minimum depth).
pub fn round_filters(filters: usize, width: f64) -> usize {
    const DIVISOR: usize = 8;
    if width == 1.0 {
        return filters;
    }
    let scaled = filters as f64 * width;
    let mut rounded = DIVISOR.max((scaled + DIVISOR as f64 / 2.0) as usize / DIVISOR * DIVISOR);
    if (rounded as f64) < 0.9 * scaled {
        rounded += DIVISOR;
    }
    rounded
}

/// Scales a stage's repeats by `depth`, rounding up (the reference `round_repeats`).
pub fn round_repeats(repeats: usize, depth: f64) -> usize {
    if depth == 1.0 {
        return repeats;
    }
    (depth * repeats as f64).ceil() as usize
}

/// Configuration of [`EfficientNet`].
#[derive(Config, Debug)]
pub struct EfficientNetConfig {
    /// B0 or B2.
    pub variant: EfficientNetVariant,
    /// Input channels (1 for a spectrogram, 3 for DiffRes features); the stem takes them all.
    pub in_channels: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// Attention heads of the pooling.
    #[config(default = 4)]
    pub heads: usize,
    /// Drop-connect (stochastic depth) rate of the last block; block `i` of `n` uses
    /// `rate * i / n`, as in the reference (0.2). Active only on an autodiff device while the
    /// module is in training mode.
    #[config(default = 0.2)]
    pub drop_connect: f64,
    /// Logits (ours) or PSLA's probabilities; PSLA's also brings its static padding.
    #[config(default = "ClassifierHead::Logits")]
    pub head: ClassifierHead,
}

impl EfficientNetConfig {
    /// Builds the network.
    ///
    /// # Panics
    /// If `in_channels`, `n_classes` or `heads` is zero or `drop_connect` is not in `[0, 1)`.
    pub fn init(&self, device: &Device) -> EfficientNet {
        assert!(self.in_channels > 0 && self.n_classes > 0 && self.heads > 0);
        assert!(
            (0.0..1.0).contains(&self.drop_connect),
            "drop_connect must be in [0, 1)"
        );
        let (width, depth) = self.variant.coefficients();
        let stem = round_filters(STEM_CHANNELS, width);
        // The nominal size each convolution sees, for static padding (PSLA head only).
        let mut size = (self.head == ClassifierHead::Psla).then(|| self.variant.image_size());
        let stem_pad = size.and_then(|s| StaticPad::new(s, 3, 2));
        size = size.map(|s| s.div_ceil(2));
        let specs: Vec<(usize, usize, usize, usize, usize)> = B0_STAGES
            .iter()
            .scan(stem, |c_in, s| {
                let c_out = round_filters(s.channels, width);
                let repeats = round_repeats(s.repeats, depth);
                let first = *c_in;
                *c_in = c_out;
                Some((0..repeats).map(move |r| {
                    let (inp, stride) = if r == 0 {
                        (first, s.stride)
                    } else {
                        (c_out, 1)
                    };
                    (inp, c_out, s.expand, stride, s.kernel)
                }))
            })
            .flatten()
            .collect();
        let n_blocks = specs.len();
        let blocks = specs
            .iter()
            .enumerate()
            .map(|(i, &(inp, out, expand, stride, kernel))| {
                let pad = size.and_then(|s| StaticPad::new(s, kernel, stride));
                size = size.map(|s| s.div_ceil(stride));
                MbConv::new(
                    [inp, out, expand, stride, kernel],
                    self.drop_connect * i as f64 / n_blocks as f64,
                    pad,
                    device,
                )
            })
            .collect();
        let last = round_filters(B0_STAGES[B0_STAGES.len() - 1].channels, width);
        let head = self.variant.head_channels();
        EfficientNet {
            backbone: EfficientNetBackbone {
                conv_stem: conv(self.in_channels, stem, 3, 2, 1, false, stem_pad, device),
                bn0: batch_norm(stem, device),
                blocks,
                conv_head: conv(last, head, 1, 1, 1, false, None, device),
                bn1: batch_norm(head, device),
                stem_pad,
            },
            attention: MHeadAttentionConfig::new(head, self.n_classes)
                .with_heads(self.heads)
                .with_head(self.head)
                .init(device),
        }
    }
}

/// A square convolution with "same" padding, or none when `pad` pads its input (static
/// padding).
#[allow(clippy::too_many_arguments)]
fn conv(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
    bias: bool,
    pad: Option<StaticPad>,
    device: &Device,
) -> Conv2d {
    let padding = match pad {
        Some(_) => PaddingConfig2d::Valid,
        None => PaddingConfig2d::Same,
    };
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(padding)
        .with_bias(bias)
        .init(device)
}

fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_momentum(BN_MOMENTUM)
        .with_epsilon(BN_EPSILON)
        .init(device)
}

/// Drop-connect: zeroes a whole sample's residual branch with probability `prob` and scales
/// the kept ones by `1 / (1 - prob)`; the identity at inference.
#[derive(Module, Debug)]
pub struct DropConnect {
    prob: f64,
    training: Param<Flag>,
}

impl DropConnect {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if self.prob == 0.0 || !self.training.is_enabled() || !x.device().is_autodiff() {
            return x;
        }
        let keep = 1.0 - self.prob;
        let [batch, _, _, _] = x.dims();
        let mask =
            Tensor::<4>::random([batch, 1, 1, 1], Distribution::Bernoulli(keep), &x.device());
        x * mask / keep
    }
}

/// Mobile inverted bottleneck: `[expand 1x1 -> BN -> swish] -> depthwise kxk -> BN -> swish
/// -> squeeze-excitation -> project 1x1 -> BN [+ input]`.
#[derive(Module, Debug)]
pub struct MbConv {
    expand_conv: Option<Conv2d>,
    bn0: Option<BatchNorm>,
    depthwise_conv: Conv2d,
    bn1: BatchNorm,
    se_reduce: Conv2d,
    se_expand: Conv2d,
    project_conv: Conv2d,
    bn2: BatchNorm,
    drop_connect: DropConnect,
    residual: bool,
    /// Static padding of the depthwise convolution (PSLA head, stride 2 only).
    #[module(skip)]
    pad: Option<StaticPad>,
}

impl MbConv {
    /// `[c_in, c_out, expand, stride, kernel]`.
    fn new(
        [c_in, c_out, expand, stride, kernel]: [usize; 5],
        drop: f64,
        pad: Option<StaticPad>,
        device: &Device,
    ) -> Self {
        let hidden = c_in * expand;
        let squeezed = ((c_in as f64 * SE_RATIO) as usize).max(1);
        let (expand_conv, bn0) = if expand != 1 {
            (
                Some(conv(c_in, hidden, 1, 1, 1, false, None, device)),
                Some(batch_norm(hidden, device)),
            )
        } else {
            (None, None)
        };
        MbConv {
            expand_conv,
            bn0,
            depthwise_conv: conv(hidden, hidden, kernel, stride, hidden, false, pad, device),
            bn1: batch_norm(hidden, device),
            se_reduce: conv(hidden, squeezed, 1, 1, 1, true, None, device),
            se_expand: conv(squeezed, hidden, 1, 1, 1, true, None, device),
            project_conv: conv(hidden, c_out, 1, 1, 1, false, None, device),
            bn2: batch_norm(c_out, device),
            drop_connect: DropConnect {
                prob: drop,
                training: Param::from_bool(true),
            },
            residual: stride == 1 && c_in == c_out,
            pad,
        }
    }

    /// # Shapes
    /// - `x`: `[B, C_in, H, W]`
    /// - output: `[B, C_out, ceil(H / stride), ceil(W / stride)]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = x.clone();
        if let (Some(expand), Some(bn)) = (&self.expand_conv, &self.bn0) {
            h = batch_norm_act(bn, conv2d(expand, h), Activation::Silu);
        }
        if let Some(pad) = &self.pad {
            h = pad.apply(h);
        }
        h = batch_norm_act(&self.bn1, conv2d(&self.depthwise_conv, h), Activation::Silu);
        h = squeeze_excite(&self.se_reduce, &self.se_expand, h);
        h = batch_norm_act(
            &self.bn2,
            conv2d(&self.project_conv, h),
            Activation::Identity,
        );
        if self.residual {
            h = self.drop_connect.forward(h) + x;
        }
        h
    }
}

/// The convolutional part: stem, MBConv blocks, head (no classifier).
#[derive(Module, Debug)]
pub struct EfficientNetBackbone {
    conv_stem: Conv2d,
    bn0: BatchNorm,
    blocks: Vec<MbConv>,
    conv_head: Conv2d,
    bn1: BatchNorm,
    /// Static padding of the stem (PSLA head only).
    #[module(skip)]
    stem_pad: Option<StaticPad>,
}

impl EfficientNetBackbone {
    /// Feature map of the head.
    ///
    /// # Shapes
    /// - `x`: `[B, C, t, F]`
    /// - output: `[B, 1280 | 1408, t', F']` with `t' = ceil(t / 32)`, `F' = ceil(F / 32)`
    ///   ("same" padding; with the PSLA head's static padding a stride-2 stage can give
    ///   `floor(n / 2)` instead, e.g. 100 frames -> 3 rows, as in PSLA)
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = match &self.stem_pad {
            Some(pad) => pad.apply(x),
            None => x,
        };
        let mut h = batch_norm_act(&self.bn0, conv2d(&self.conv_stem, x), Activation::Silu);
        for block in &self.blocks {
            h = block.forward(h);
        }
        batch_norm_act(&self.bn1, conv2d(&self.conv_head, h), Activation::Silu)
    }

    /// Number of MBConv blocks (16 for B0, 23 for B2).
    pub fn num_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Input channels of the stem.
    pub fn in_channels(&self) -> usize {
        self.conv_stem.weight.dims()[1]
    }
}

/// EfficientNet backbone followed by PSLA's multi-head attention pooling (see
/// [`MHeadAttention`] for the one deviation: logits are pooled, not probabilities).
#[derive(Module, Debug)]
pub struct EfficientNet {
    backbone: EfficientNetBackbone,
    attention: MHeadAttention,
}

impl EfficientNet {
    /// Class logits.
    ///
    /// # Shapes
    /// - `x`: `[B, C, t, F]` (any `t, F >= 1`: "same" padding, sizes go down to 1)
    /// - output: `[B, n_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.attention.forward(self.backbone.forward(x))
    }

    /// The backbone.
    pub fn backbone(&self) -> &EfficientNetBackbone {
        &self.backbone
    }

    /// The attention pooling.
    pub fn attention(&self) -> &MHeadAttention {
        &self.attention
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_filters_matches_the_reference() {
        let b2: Vec<usize> = [32, 16, 24, 40, 80, 112, 192, 320, 1280]
            .iter()
            .map(|&c| round_filters(c, 1.1))
            .collect();
        assert_eq!(b2, [32, 16, 24, 48, 88, 120, 208, 352, 1408]);
        let reps: Vec<usize> = B0_STAGES
            .iter()
            .map(|s| round_repeats(s.repeats, 1.2))
            .collect();
        assert_eq!(reps, [2, 3, 3, 4, 4, 5, 2]);
        assert_eq!(round_filters(40, 1.0), 40);
    }

    #[test]
    fn static_padding_matches_efficientnet_pytorch() {
        // Conv2dStaticSamePadding: pad = max((ceil(i / s) - 1) s + k - i, 0), split low-high.
        let p = |size, k, s| StaticPad::new(size, k, s).map(|p| (p.before, p.after));
        assert_eq!(p(224, 3, 2), Some((0, 1)));
        assert_eq!(p(56, 5, 2), Some((1, 2)));
        assert_eq!(p(65, 5, 2), Some((2, 2)));
        assert_eq!(p(33, 3, 2), Some((1, 1)));
        assert_eq!(p(28, 3, 1), None);
        // PSLA's B0 on a [1, 1, 128, 100] input: 100 -> 50 -> 25 -> 12 -> 6 -> 3 (dynamic
        // padding gives 4), 128 -> 4, as its golden features [2, 1280, 4, 3] say.
        let device = Device::flex();
        let b0 = EfficientNetConfig::new(EfficientNetVariant::B0, 1, 3)
            .with_head(ClassifierHead::Psla)
            .init(&device);
        let out = b0
            .backbone()
            .forward(Tensor::<4>::zeros([1, 1, 100, 128], &device));
        assert_eq!(out.dims(), [1, 1280, 3, 4]);
        // Tiny inputs still give one output.
        for (t, f) in [(1, 1), (2, 3), (5, 2)] {
            let y = b0.forward(Tensor::<4>::ones([2, 1, t, f], &device));
            assert_eq!(y.dims(), [2, 3], "{t} x {f}");
        }
    }

    #[test]
    fn block_counts() {
        let device = Device::flex();
        let b0 = EfficientNetConfig::new(EfficientNetVariant::B0, 1, 3).init(&device);
        let b2 = EfficientNetConfig::new(EfficientNetVariant::B2, 1, 3).init(&device);
        assert_eq!(b0.backbone().num_blocks(), 16);
        assert_eq!(b2.backbone().num_blocks(), 23);
        assert_eq!(b0.attention().heads(), 4);
    }

    #[test]
    fn drop_connect_is_the_identity_without_autodiff_and_per_sample_with_it() {
        let device = Device::flex();
        let dc = DropConnect {
            prob: 0.5,
            training: Param::from_bool(true),
        };
        let x = Tensor::<4>::ones([8, 2, 2, 2], &device);
        assert_eq!(dc.forward(x.clone()).into_data(), x.into_data());
        let ad = Device::flex().autodiff();
        ad.seed(3);
        let y = dc
            .forward(Tensor::<4>::ones([64, 2, 2, 2], &ad))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for sample in y.chunks(8) {
            assert!(
                sample.iter().all(|&v| v == sample[0]) && (sample[0] == 0.0 || sample[0] == 2.0)
            );
        }
        assert!(y.contains(&0.0) && y.contains(&2.0));
    }
}
