//! A compact 2-D CNN that trains in minutes on two CPU cores.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;

use crate::layers::{avg_pool2d, batch_norm_act, conv2d, Activation};

/// Configuration of [`CompactCnn`].
#[derive(Config, Debug)]
pub struct CompactCnnConfig {
    /// Input channels (3 for DiffRes features, 1 for the baselines).
    pub in_channels: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// Channels of the first block; each later block doubles it, up to `4 * width`.
    #[config(default = 16)]
    pub width: usize,
    /// Dropout before the classifier.
    #[config(default = 0.2)]
    pub dropout: f64,
}

impl CompactCnnConfig {
    /// Builds the network.
    pub fn init(&self, device: &Device) -> CompactCnn {
        let w = self.width.max(1);
        let channels = [self.in_channels, w, 2 * w, 4 * w, 4 * w];
        let blocks = channels
            .windows(2)
            .map(|pair| ConvBlock {
                conv: Conv2dConfig::new([pair[0], pair[1]], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_bias(false)
                    .init(device),
                norm: BatchNormConfig::new(pair[1]).init(device),
            })
            .collect();
        CompactCnn {
            blocks,
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(2 * 4 * w, self.n_classes).init(device),
        }
    }
}

/// `conv 3x3 -> BN -> ReLU`.
#[derive(Module, Debug)]
struct ConvBlock {
    conv: Conv2d,
    norm: BatchNorm,
}

/// Four `conv 3x3 -> BN -> ReLU -> 2x2 average pool` blocks over (time, frequency), then the
/// mean over frequency, mean and max over time concatenated, dropout and a linear layer.
#[derive(Module, Debug)]
pub struct CompactCnn {
    blocks: Vec<ConvBlock>,
    dropout: Dropout,
    head: Linear,
}

impl CompactCnn {
    /// Class logits.
    ///
    /// # Shapes
    /// - `x`: `[B, C, t, F]`
    /// - output: `[B, n_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut h = x;
        for block in &self.blocks {
            h = batch_norm_act(&block.norm, conv2d(&block.conv, h), Activation::Relu);
            let [_, _, time, freq] = h.dims();
            // Pool only along axes that still have two or more steps (very short inputs work).
            let kernel = [if time >= 2 { 2 } else { 1 }, if freq >= 2 { 2 } else { 1 }];
            h = avg_pool2d(h, kernel);
        }
        let [batch, channels, time, _] = h.dims();
        let h = h.mean_dim(3).reshape([batch, channels, time]); // [B, C, t']
        let pooled = Tensor::cat(vec![h.clone().mean_dim(2), h.max_dim(2)], 1)
            .reshape([batch, 2 * channels]); // [B, 2C]
        self.head.forward(self.dropout.forward(pooled))
    }
}
