//! The frame-importance network: a stack of residual 1-D convolution blocks.

use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig1d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::error::DiffResError;

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
    conv1: Conv1d,
    norm1: BatchNorm,
    conv2: Conv1d,
    norm2: BatchNorm,
}

impl ResConv1d {
    /// Applies the block. `mask` (1 on valid frames, 0 on padding) is applied before each
    /// convolution, so padding is seen as zeros exactly as at the end of an unpadded clip.
    ///
    /// # Shapes
    /// - `x`: `[B, C_in, T]`, `mask`: `[B, 1, T]`
    /// - output: `[B, C_out, T]`
    pub fn forward(&self, x: Tensor<3>, mask: Option<&Tensor<3>>) -> Tensor<3> {
        let apply = |x: Tensor<3>| match mask {
            Some(m) => x * m.clone(),
            None => x,
        };
        let first = batch_norm(&self.norm1, relu(conv(&self.conv1, apply(x))));
        let second = batch_norm(&self.norm2, relu(conv(&self.conv2, apply(first.clone()))));
        first + second
    }
}

/// [`BatchNorm::forward`], with the training path written out in plain tensor operations.
///
/// Burn's training batch norm (the backend's default `batch_norm_train`, which flex keeps)
/// transposes the activation to `[C, B T]` for each statistic and again in its backward: about
/// 100 ms of copies per call at `[32, 64, 3000]`. Reducing along the contiguous time axis first
/// and broadcasting the per-channel statistics avoids every transpose and halves the time of
/// the call, forward and backward. The statistics (batch mean and biased variance), the output
/// and the running-statistics update are Burn's, up to float rounding. Inference, and a frozen
/// layer, go through Burn's own path.
///
/// # Shapes
/// - `x`: `[B, C, T]`; output `[B, C, T]`
fn batch_norm(norm: &BatchNorm, x: Tensor<3>) -> Tensor<3> {
    let device = x.device();
    if !(device.is_autodiff() && norm.training.is_enabled()) || std::env::var("AB_OLD_BN").is_ok() {
        return norm.forward(x);
    }
    let [_, channels, _] = x.dims();
    // Every sample has the same length, so the mean of per-sample means is the batch mean.
    let mean = x.clone().mean_dim(2).mean_dim(0); // [1, C, 1]
    let centered = x - mean.clone();
    let variance = centered.clone().square().mean_dim(2).mean_dim(0); // [1, C, 1], biased
    let scale =
        norm.gamma.val().reshape([1, channels, 1]) / (variance.clone() + norm.epsilon).sqrt();
    let output = centered * scale + norm.beta.val().reshape([1, channels, 1]);

    let momentum = norm.momentum;
    let update = |running: &burn::module::RunningState<Tensor<1>>, batch: Tensor<3>| {
        let old = running.value_sync().to_device(&device);
        let new = old.mul_scalar(1.0 - momentum)
            + batch.detach().reshape([channels]).mul_scalar(momentum);
        running.update(new.detach());
    };
    update(&norm.running_mean, mean);
    update(&norm.running_var, variance);
    output
}

/// A stride-1, zero-padded 1-D convolution (the only kind built here).
///
/// When the weights are tracked but the input is not (the network's first convolution, on the
/// spectrogram), it is computed as one matrix product per kernel tap,
/// `y = b + sum_d W[:, :, d] x[:, :, d * dilation ..]`, because Burn flex's convolution backward
/// is about twice as slow as the backward of these products there; the values are the same up
/// to float rounding. When the input is tracked, the input gradient of the per-tap form (a
/// zero-padded copy per tap, then their sum) costs more than it saves, and without autodiff
/// Burn's forward is faster, so Burn's convolution is used in both cases.
///
/// # Shapes
/// - `x`: `[B, C_in, T]`; output `[B, C_out, T]`
fn conv(conv: &Conv1d, x: Tensor<3>) -> Tensor<3> {
    let weight = conv.weight.val();
    let per_tap = if std::env::var("AB_OLD_CONV").is_ok() {
        weight.is_tracked() || x.is_tracked()
    } else {
        weight.is_tracked() && !x.is_tracked()
    };
    let PaddingConfig1d::Explicit(left, right) = conv.padding else {
        return conv.forward(x);
    };
    if !per_tap || conv.stride != 1 || conv.groups != 1 {
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
        if self.dilation_growth == 0 || self.dilation_growth.pow(4) > 4096 {
            return Err(DiffResError::Config(format!(
                "dilation_growth must be in 1..=8, got {}",
                self.dilation_growth
            )));
        }
        Ok(())
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
    blocks: Vec<ResConv1d>,
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

    #[test]
    fn training_batch_norm_matches_burns() {
        let device = Device::flex().autodiff();
        // Two fresh layers start from the same state (gamma 1, beta 0, running 0 and 1).
        let ours_norm = BatchNormConfig::new(4).init(&device);
        let burns_norm = BatchNormConfig::new(4).init(&device);
        let data = Tensor::<3>::random(
            [3, 4, 7],
            burn::tensor::Distribution::Normal(1.0, 2.0),
            &device,
        );
        let weight = Tensor::<3>::random([3, 4, 7], burn::tensor::Distribution::Default, &device);
        let run = |norm: &BatchNorm, ours: bool| {
            let x = data.clone().require_grad();
            let y = if ours {
                batch_norm(norm, x.clone())
            } else {
                norm.forward(x.clone())
            };
            let grads = (y.clone() * weight.clone()).sum().backward();
            let gamma = norm.gamma.val().grad(&grads).unwrap();
            let mut all = crate::host::read_f32(&y);
            all.extend(crate::host::read_f32(&x.grad(&grads).unwrap()));
            all.extend(crate::host::read_f32(&gamma));
            all.extend(crate::host::read_f32(&norm.running_mean.value()));
            all.extend(crate::host::read_f32(&norm.running_var.value()));
            all
        };
        let ours = run(&ours_norm, true);
        let burns = run(&burns_norm, false);
        for (a, b) in ours.iter().zip(&burns) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn even_kernel_is_rejected() {
        let err = ImportanceNetConfig::new(64).with_kernel_size(4).validate();
        assert!(matches!(err, Err(DiffResError::Config(_))));
    }
}
