//! The frame-importance network: a stack of residual 1-D convolution blocks.

use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig1d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::cpu::conv_block_op::{self, BlockParams, ConvParams};
use crate::error::DiffResError;
use crate::kernel_support::update_running_stats;
use crate::kernel_support::NormParams;

/// Configuration of one [`ResConv1d`] block.
#[derive(Config, Debug)]
pub struct ResConv1dConfig {
    /// Input channels.
    pub channels_in: usize,
    /// Output channels.
    pub channels_out: usize,
    /// Kernel size (odd, so that "same" padding is symmetric).
    #[config(default = 5)]
    pub kernel_size: usize,
    /// Dilation of both convolutions.
    #[config(default = 1)]
    pub dilation: usize,
}

impl ResConv1dConfig {
    /// Builds the block.
    pub fn init(&self, device: &Device) -> ResConv1d {
        let pad = self.dilation * (self.kernel_size - 1) / 2;
        let conv = |cin| {
            Conv1dConfig::new(cin, self.channels_out, self.kernel_size)
                .with_dilation(self.dilation)
                .with_padding(PaddingConfig1d::Explicit(pad, pad))
                .init(device)
        };
        ResConv1d {
            conv1: conv(self.channels_in),
            norm1: BatchNormConfig::new(self.channels_out).init(device),
            conv2: conv(self.channels_out),
            norm2: BatchNormConfig::new(self.channels_out).init(device),
        }
    }
}

/// `conv -> ReLU -> BN -> conv -> ReLU -> BN`, with the first BN's output added to the
/// second's, as in the authors' code. Zero "same" padding keeps the length.
#[derive(Module, Debug)]
pub struct ResConv1d {
    pub(crate) conv1: Conv1d,
    pub(crate) norm1: BatchNorm,
    pub(crate) conv2: Conv1d,
    pub(crate) norm2: BatchNorm,
}

impl ResConv1d {
    /// Applies the block. `mask` (1 on valid frames, 0 on padding) is applied before each
    /// convolution, so padding is seen as zeros exactly as at the end of an unpadded clip.
    ///
    /// On Burn's flex CPU backend this runs as one fused host operation with its own backward
    /// pass (see the `cpu` module); elsewhere as Burn tensor operations. Both give the same
    /// values and gradients.
    ///
    /// # Shapes
    /// - `x`: `[B, C_in, T]`, `mask`: `[B, 1, T]`
    /// - output: `[B, C_out, T]`
    pub fn forward(&self, x: Tensor<3>, mask: Option<&Tensor<3>>) -> Tensor<3> {
        match self.forward_fused(&x, mask) {
            Some(out) => out,
            None => self.forward_portable(x, mask),
        }
    }

    /// [`ResConv1d::forward`] as the fused flex kernel, or `None` where it does not apply
    /// (another backend, non-`f32` data, a frozen batch norm under autodiff). In training the
    /// running statistics are updated from the kernel's batch statistics.
    pub(crate) fn forward_fused(
        &self,
        x: &Tensor<3>,
        mask: Option<&Tensor<3>>,
    ) -> Option<Tensor<3>> {
        let fused = conv_block_op::forward(&self.params(), x, mask)?;
        if let Some([first, second]) = &fused.batch_stats {
            update_running_stats(&self.norm1, &first.mean, &first.var);
            update_running_stats(&self.norm2, &second.mean, &second.var);
        }
        Some(fused.out)
    }

    /// The block's parameters as plain data, for the fused kernel.
    fn params(&self) -> BlockParams {
        BlockParams {
            conv1: conv_params(&self.conv1),
            norm1: NormParams::of(&self.norm1),
            conv2: conv_params(&self.conv2),
            norm2: NormParams::of(&self.norm2),
        }
    }

    /// [`ResConv1d::forward`] with Burn tensor operations only (any backend).
    pub(crate) fn forward_portable(&self, x: Tensor<3>, mask: Option<&Tensor<3>>) -> Tensor<3> {
        let apply = |x: Tensor<3>| match mask {
            Some(m) => x * m.clone(),
            None => x,
        };
        let first = self.norm1.forward(relu(conv(&self.conv1, apply(x))));
        let second = self
            .norm2
            .forward(relu(conv(&self.conv2, apply(first.clone()))));
        first + second
    }
}

fn conv_params(conv: &Conv1d) -> ConvParams {
    ConvParams {
        weight: conv.weight.val(),
        bias: conv.bias.as_ref().map(|bias| bias.val()),
        stride: conv.stride,
        dilation: conv.dilation,
        groups: conv.groups,
        padding: match conv.padding {
            PaddingConfig1d::Explicit(left, right) => Some((left, right)),
            _ => None,
        },
    }
}

/// A stride-1, zero-padded 1-D convolution (the only kind built here).
///
/// When gradients are tracked it is computed as one matrix product per kernel tap,
/// `y = b + sum_d W[:, :, d] x[:, :, d * dilation ..]`, because Burn flex's convolution backward
/// is about twice as slow as the backward of these products; the values are the same up to
/// float rounding. Without autodiff, Burn's convolution (the faster forward) is used.
///
/// # Shapes
/// - `x`: `[B, C_in, T]`; output `[B, C_out, T]`
fn conv(conv: &Conv1d, x: Tensor<3>) -> Tensor<3> {
    let weight = conv.weight.val();
    let tracked = x.is_tracked() || weight.is_tracked();
    let PaddingConfig1d::Explicit(left, right) = conv.padding else {
        return conv.forward(x);
    };
    if !tracked || conv.stride != 1 || conv.groups != 1 {
        return conv.forward(x);
    }
    let [batch, channels_in, frames] = x.dims();
    let [channels_out, _, kernel] = weight.dims();
    let device = x.device();
    let padded = Tensor::cat(
        vec![
            Tensor::<3>::zeros([batch, channels_in, left], &device),
            x,
            Tensor::<3>::zeros([batch, channels_in, right], &device),
        ],
        2,
    );
    let taps = (0..kernel).map(|d| {
        let w = weight
            .clone()
            .narrow(2, d, 1)
            .reshape([1, channels_out, channels_in]);
        w.matmul(padded.clone().narrow(2, d * conv.dilation, frames))
    });
    let sum = taps.reduce(|a, b| a + b).expect("kernel_size >= 1");
    match &conv.bias {
        Some(bias) => sum + bias.val().reshape([1, channels_out, 1]),
        None => sum,
    }
}

/// Largest dilation growth of the importance network: block 5 then dilates by 8^4 = 4096,
/// a receptive field of about 33,000 frames, beyond any input this tool takes.
pub const MAX_DILATION_GROWTH: usize = 8;

/// Checks a dilation growth (`1..=`[`MAX_DILATION_GROWTH`]).
///
/// # Errors
/// [`DiffResError::Config`] naming the value and the range.
pub fn check_dilation(growth: usize) -> crate::Result<()> {
    if (1..=MAX_DILATION_GROWTH).contains(&growth) {
        Ok(())
    } else {
        Err(DiffResError::Config(format!(
            "dilation growth {growth} is out of range 1..={MAX_DILATION_GROWTH}"
        )))
    }
}

/// Configuration of the [`ImportanceNet`].
#[derive(Config, Debug)]
pub struct ImportanceNetConfig {
    /// Mel bins `F` of the input.
    pub n_mels: usize,
    /// Kernel size of every convolution.
    #[config(default = 5)]
    pub kernel_size: usize,
    /// Dilation of block `i` is `dilation_growth^i` (1 = the paper's network, receptive field
    /// 41 frames; 2 widens it to 125 frames at no parameter cost).
    #[config(default = 1)]
    pub dilation_growth: usize,
}

impl ImportanceNetConfig {
    /// Channel plan: `F -> F/2 -> F/4 -> F/8 -> F/16 -> 1` for `F >= 128` (the paper's
    /// 82,371 parameters at 128), `F -> F -> F/2 -> F/4 -> F/4 -> 1` below (the authors' plan
    /// for 40 and 64 mels, 25,041 and 63,579 parameters). Widths never drop below 1.
    pub fn channels(&self) -> Vec<usize> {
        let f = self.n_mels;
        let plan = if f >= 128 {
            [f, f / 2, f / 4, f / 8, f / 16]
        } else {
            [f, f, f / 2, f / 4, f / 4]
        };
        let mut channels: Vec<usize> = plan.iter().map(|&c| c.max(1)).collect();
        channels.push(1);
        channels
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// [`DiffResError::Config`] for 0 mels, an even or zero kernel, or a zero dilation growth.
    pub fn validate(&self) -> crate::Result<()> {
        if self.n_mels == 0 {
            return Err(DiffResError::Config("n_mels must be at least 1".into()));
        }
        if self.kernel_size % 2 != 1 {
            return Err(DiffResError::Config(format!(
                "kernel_size must be odd, got {}",
                self.kernel_size
            )));
        }
        check_dilation(self.dilation_growth)
    }

    /// Builds the network.
    ///
    /// # Errors
    /// See [`ImportanceNetConfig::validate`].
    pub fn init(&self, device: &Device) -> crate::Result<ImportanceNet> {
        self.validate()?;
        let channels = self.channels();
        let blocks = channels
            .windows(2)
            .enumerate()
            .map(|(i, pair)| {
                ResConv1dConfig::new(pair[0], pair[1])
                    .with_kernel_size(self.kernel_size)
                    .with_dilation(self.dilation_growth.pow(i as u32))
                    .init(device)
            })
            .collect();
        Ok(ImportanceNet { blocks })
    }
}

/// Scores every input frame in `(0, 1)`: five [`ResConv1d`] blocks and a sigmoid.
#[derive(Module, Debug)]
pub struct ImportanceNet {
    pub(crate) blocks: Vec<ResConv1d>,
}

impl ImportanceNet {
    /// Frame scores.
    ///
    /// # Shapes
    /// - `x`: `[B, T, F]`, `mask`: `[B, 1, T]` (1 on valid frames)
    /// - output: `[B, T]`
    pub fn forward(&self, x: Tensor<3>, mask: Option<&Tensor<3>>) -> Tensor<2> {
        let [batch, frames, _] = x.dims();
        let mut h = x.swap_dims(1, 2); // [B, F, T]
        for block in &self.blocks {
            h = block.forward(h, mask);
        }
        sigmoid(h).reshape([batch, frames]) // [B, 1, T] -> [B, T]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_match_the_paper() {
        let device = Device::flex();
        for (mels, expected) in [(128, 82_371), (64, 63_579), (40, 25_041)] {
            let net = ImportanceNetConfig::new(mels).init(&device).unwrap();
            assert_eq!(crate::trainable_params(&net), expected, "F = {mels}");
        }
    }

    #[test]
    fn any_mel_count_works_and_scores_are_probabilities() {
        let device = Device::flex();
        for mels in [1, 7, 80, 257] {
            let net = ImportanceNetConfig::new(mels).init(&device).unwrap();
            let x = Tensor::<3>::random([2, 9, mels], burn::tensor::Distribution::Default, &device);
            let s = crate::host::read_f32(&net.forward(x, None));
            assert_eq!(s.len(), 18);
            assert!(s.iter().all(|v| *v > 0.0 && *v < 1.0));
        }
    }

    #[test]
    fn training_convolution_matches_burns() {
        let device = Device::flex().autodiff();
        for dilation in [1, 2] {
            let block = ResConv1dConfig::new(6, 4)
                .with_dilation(dilation)
                .init(&device);
            let x = Tensor::<3>::random([2, 6, 11], burn::tensor::Distribution::Default, &device);
            let plain = block.conv1.forward(x.clone());
            let ours = conv(&block.conv1, x);
            let diff = crate::host::read_f32(&(plain - ours).abs().max());
            assert!(diff[0] < 1e-5, "dilation {dilation}: {diff:?}");
        }
    }

    /// The block's fused flex kernel against its Burn-operations path: outputs, running
    /// statistics and every gradient (input included), with a mask and with dilation.
    #[test]
    fn fused_block_matches_the_portable_block() {
        use burn::tensor::Distribution;
        let device = Device::flex().autodiff();
        device.seed(7);
        // Relative to the larger of 1 and the tensor's largest magnitude: the convolutions'
        // bias gradients before a train-mode batch norm are zero but for rounding (the norm
        // removes the mean), so only an absolute bound means anything for them.
        let max_diff = |a: Tensor<1>, b: Tensor<1>| -> f32 {
            let scale = crate::host::read_f32(&b.clone().abs().max())[0].max(1.0);
            crate::host::read_f32(&(a - b).abs().max())[0] / scale
        };
        for (dilation, masked, cin, cout) in [(1, false, 6, 4), (2, true, 5, 3), (1, true, 1, 1)] {
            let fused = ResConv1dConfig::new(cin, cout)
                .with_dilation(dilation)
                .init(&device);
            let portable = fused.clone();
            let x = Tensor::<3>::random([3, cin, 17], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let mask = masked.then(|| {
                let m: Vec<f32> = (0..3 * 17)
                    .map(|i| if i % 17 < 12 + i / 17 { 1.0 } else { 0.0 })
                    .collect();
                Tensor::<3>::from_data(TensorData::new(m, [3, 1, 17]), &device)
            });
            let weight =
                Tensor::<3>::random([3, cout, 17], Distribution::Normal(0.0, 1.0), &device);
            let a = fused
                .forward_fused(&x, mask.as_ref())
                .expect("flex takes the fused path");
            let b = portable.forward_portable(x.clone(), mask.as_ref());
            let case = format!("dilation {dilation}, mask {masked}, {cin}->{cout}");
            assert!(
                max_diff(a.clone().flatten(0, 2), b.clone().flatten(0, 2)) < 1e-5,
                "{case}: output"
            );
            let ga = (a * weight.clone()).sum().backward();
            let gb = (b * weight).sum().backward();
            let pairs: Vec<(&str, Tensor<1>, Tensor<1>)> = vec![
                (
                    "x",
                    x.grad(&ga).unwrap().flatten(0, 2),
                    x.grad(&gb).unwrap().flatten(0, 2),
                ),
                (
                    "conv1.weight",
                    fused.conv1.weight.grad(&ga).unwrap().flatten(0, 2),
                    portable.conv1.weight.grad(&gb).unwrap().flatten(0, 2),
                ),
                (
                    "conv1.bias",
                    fused.conv1.bias.as_ref().unwrap().grad(&ga).unwrap(),
                    portable.conv1.bias.as_ref().unwrap().grad(&gb).unwrap(),
                ),
                (
                    "norm1.gamma",
                    fused.norm1.gamma.grad(&ga).unwrap(),
                    portable.norm1.gamma.grad(&gb).unwrap(),
                ),
                (
                    "norm1.beta",
                    fused.norm1.beta.grad(&ga).unwrap(),
                    portable.norm1.beta.grad(&gb).unwrap(),
                ),
                (
                    "conv2.weight",
                    fused.conv2.weight.grad(&ga).unwrap().flatten(0, 2),
                    portable.conv2.weight.grad(&gb).unwrap().flatten(0, 2),
                ),
                (
                    "conv2.bias",
                    fused.conv2.bias.as_ref().unwrap().grad(&ga).unwrap(),
                    portable.conv2.bias.as_ref().unwrap().grad(&gb).unwrap(),
                ),
                (
                    "norm2.gamma",
                    fused.norm2.gamma.grad(&ga).unwrap(),
                    portable.norm2.gamma.grad(&gb).unwrap(),
                ),
                (
                    "norm2.beta",
                    fused.norm2.beta.grad(&ga).unwrap(),
                    portable.norm2.beta.grad(&gb).unwrap(),
                ),
            ];
            for (name, a, b) in pairs {
                let d = max_diff(a, b);
                assert!(d < 1e-4, "{case}: gradient of {name} differs by {d}");
            }
            for (a, b) in [
                (&fused.norm1.running_mean, &portable.norm1.running_mean),
                (&fused.norm1.running_var, &portable.norm1.running_var),
                (&fused.norm2.running_mean, &portable.norm2.running_mean),
                (&fused.norm2.running_var, &portable.norm2.running_var),
            ] {
                assert!(
                    max_diff(a.value(), b.value()) < 1e-5,
                    "{case}: running statistics"
                );
            }
            // Inference (plain flex, running statistics) after that training step.
            let fused = fused.valid();
            let portable = portable.valid();
            let x = x.inner();
            let mask = mask.map(|m| m.inner());
            let a = fused.forward_fused(&x, mask.as_ref()).unwrap();
            let b = portable.forward_portable(x, mask.as_ref());
            assert!(
                max_diff(a.flatten(0, 2), b.flatten(0, 2)) < 1e-5,
                "{case}: inference"
            );
        }
    }

    /// The whole network on a `[B, T, F]` input (its first block reads a transposed view,
    /// copied time-major by the kernel): fused against portable, values and gradients.
    #[test]
    fn fused_network_matches_the_portable_network() {
        use burn::tensor::Distribution;
        let device = Device::flex().autodiff();
        device.seed(3);
        let net = ImportanceNetConfig::new(16).init(&device).unwrap();
        let twin = net.clone();
        let x = Tensor::<3>::random([2, 30, 16], Distribution::Normal(-3.0, 2.0), &device)
            .require_grad();
        let mask = Tensor::<3>::from_data(
            TensorData::new(
                (0..60)
                    .map(|i| {
                        if i % 30 < 20 + i / 30 * 10 {
                            1.0f32
                        } else {
                            0.0
                        }
                    })
                    .collect::<Vec<_>>(),
                [2, 1, 30],
            ),
            &device,
        );
        let fused = net.forward(x.clone(), Some(&mask));
        let mut h = x.clone().swap_dims(1, 2);
        for block in &twin.blocks {
            h = block.forward_portable(h, Some(&mask));
        }
        let portable = sigmoid(h).reshape([2, 30]);
        let diff = |a: Tensor<1>, b: Tensor<1>| crate::host::read_f32(&(a - b).abs().max())[0];
        assert!(diff(fused.clone().flatten(0, 1), portable.clone().flatten(0, 1)) < 1e-5);
        let weight = Tensor::<2>::random([2, 30], Distribution::Default, &device);
        let ga = (fused * weight.clone()).sum().backward();
        let gb = (portable * weight).sum().backward();
        let gx = diff(
            x.grad(&ga).unwrap().flatten(0, 2),
            x.grad(&gb).unwrap().flatten(0, 2),
        );
        assert!(gx < 1e-5, "input gradient differs by {gx}");
        let w = |n: &ImportanceNet, g| n.blocks[0].conv1.weight.grad(g).unwrap().flatten::<1>(0, 2);
        let gw = diff(w(&net, &ga), w(&twin, &gb));
        assert!(gw < 1e-4, "first convolution's gradient differs by {gw}");
    }

    #[test]
    fn even_kernel_is_rejected() {
        let err = ImportanceNetConfig::new(64).with_kernel_size(4).validate();
        assert!(matches!(err, Err(DiffResError::Config(_))));
    }
}
