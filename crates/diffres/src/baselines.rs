//! The paper's fixed-resolution baselines (section 3.1), with DiffRes's output contract.
//!
//! All take a log spectrogram `[B, T, F]` (and optional valid lengths) and return one channel
//! `[B, 1, t, F]`, with `t = floor(T (1 - delta))` ([`Identity`] keeps `T`). With lengths, each
//! clip's valid frames are pooled or sampled into its `t` frames.

use burn::prelude::*;

use crate::frames::{output_frames, resolve_lengths};
use crate::importance::{ResConv1d, ResConv1dConfig};
use crate::layer::check_input;
use crate::output::FrontEndOutput;
use crate::segment::{segment_max, segment_sum};
use crate::warp::valid_mask;

fn plain_output(feature: Tensor<4>) -> FrontEndOutput {
    let device = feature.device();
    FrontEndOutput {
        feature,
        score: None,
        guide_loss: Tensor::zeros([1], &device),
        activeness: Tensor::zeros([1], &device),
        plan: None,
    }
}

/// PyTorch's adaptive-pooling bins for `len` frames into `t`: bin `i` covers
/// `floor(i len / t) .. ceil((i + 1) len / t)`.
pub fn adaptive_bins(len: usize, t: usize) -> Vec<(usize, usize)> {
    (0..t)
        .map(|i| ((i * len) / t, ((i + 1) * len).div_ceil(t)))
        .collect()
}

/// `(source row, output row, weight)` lists of adaptive average pooling over a flattened batch.
fn pooling_plan(lengths: &[usize], frames: usize, t: usize) -> (Vec<i64>, Vec<i64>, Vec<f32>) {
    let (mut src, mut dst, mut weight) = (Vec::new(), Vec::new(), Vec::new());
    for (b, &len) in lengths.iter().enumerate() {
        for (i, (start, end)) in adaptive_bins(len, t).into_iter().enumerate() {
            for j in start..end {
                src.push((b * frames + j) as i64);
                dst.push((b * t + i) as i64);
                weight.push(1.0 / (end - start) as f32);
            }
        }
    }
    (src, dst, weight)
}

/// Adaptive average (and optionally max) pooling of `[B, T, F]` to `[B, t, F]`.
fn adaptive_pool(x: Tensor<3>, lengths: &[usize], t: usize, with_max: bool) -> Tensor<3> {
    let [batch, frames, mels] = x.dims();
    let device = x.device();
    let (src, dst, weight) = pooling_plan(lengths, frames, t);
    let n = src.len();
    let index = Tensor::<1, Int>::from_data(TensorData::new(src, [n]), &device);
    let rows = x.reshape([batch * frames, mels]).select(0, index); // [n, F]
    let weight = Tensor::<2>::from_data(TensorData::new(weight, [n, 1]), &device);
    let mean = segment_sum(rows.clone() * weight, &dst, batch * t);
    let pooled = if with_max {
        (mean + segment_max(rows, &dst, batch * t, 0.0)) / 2.0
    } else {
        mean
    };
    pooled.reshape([batch, t, mels])
}

/// No reduction: the fixed-resolution baseline (100 frames per second at a 10 ms hop).
#[derive(Module, Debug)]
pub struct Identity {
    n_mels: usize,
}

impl Identity {
    /// Creates the identity front end for `n_mels` bins.
    pub fn new(n_mels: usize) -> Self {
        Self { n_mels }
    }

    /// # Shapes
    /// - `x`: `[B, T, F]`; output feature `[B, 1, T, F]`
    ///
    /// # Errors
    /// Wrong shape or non-finite input.
    pub fn forward(
        &self,
        x: Tensor<3>,
        lengths: Option<&[usize]>,
    ) -> crate::Result<FrontEndOutput> {
        check_input(&x, self.n_mels)?;
        let [batch, frames, _] = x.dims();
        resolve_lengths(lengths, batch, frames)?;
        Ok(plain_output(x.unsqueeze_dim(1)))
    }
}

/// Uniform frame selection (`linspace(0, T - 1, t)` indices): the same as a larger hop.
#[derive(Module, Debug)]
pub struct ChangeHopSize {
    n_mels: usize,
    delta: f64,
}

impl ChangeHopSize {
    /// Creates the front end.
    ///
    /// # Errors
    /// `delta` outside `[0, 1)`.
    pub fn new(n_mels: usize, delta: f64) -> crate::Result<Self> {
        crate::frames::check_delta(delta)?;
        Ok(Self { n_mels, delta })
    }

    /// The selected input frames for a clip of `len` valid frames.
    pub fn indices(len: usize, t: usize) -> Vec<usize> {
        if t == 1 {
            return vec![0];
        }
        (0..t)
            .map(|i| ((i * (len - 1)) as f64 / (t - 1) as f64 + 1e-9).floor() as usize)
            .collect()
    }

    /// # Shapes
    /// - `x`: `[B, T, F]`; output feature `[B, 1, t, F]`
    ///
    /// # Errors
    /// Wrong shape, non-finite input, bad lengths, or too few frames.
    pub fn forward(
        &self,
        x: Tensor<3>,
        lengths: Option<&[usize]>,
    ) -> crate::Result<FrontEndOutput> {
        check_input(&x, self.n_mels)?;
        let [batch, frames, mels] = x.dims();
        let t = output_frames(frames, self.delta)?;
        let lengths = resolve_lengths(lengths, batch, frames)?;
        let rows: Vec<i64> = lengths
            .iter()
            .enumerate()
            .flat_map(|(b, &len)| {
                Self::indices(len, t)
                    .into_iter()
                    .map(move |j| (b * frames + j) as i64)
            })
            .collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(rows, [batch * t]), &x.device());
        let picked = x.reshape([batch * frames, mels]).select(0, index); // [B t, F]
        Ok(plain_output(picked.reshape([batch, 1, t, mels])))
    }
}

/// Adaptive average pooling over time.
#[derive(Module, Debug)]
pub struct AvgPool {
    n_mels: usize,
    delta: f64,
    with_max: bool,
}

impl AvgPool {
    /// Average pooling to `t` frames.
    ///
    /// # Errors
    /// `delta` outside `[0, 1)`.
    pub fn new(n_mels: usize, delta: f64) -> crate::Result<Self> {
        crate::frames::check_delta(delta)?;
        Ok(Self {
            n_mels,
            delta,
            with_max: false,
        })
    }

    /// The AvgMaxPool baseline: the mean of adaptive average and adaptive max pooling, as the
    /// reference's `pool`.
    ///
    /// # Errors
    /// `delta` outside `[0, 1)`.
    pub fn avg_max(n_mels: usize, delta: f64) -> crate::Result<Self> {
        crate::frames::check_delta(delta)?;
        Ok(Self {
            n_mels,
            delta,
            with_max: true,
        })
    }

    /// # Shapes
    /// - `x`: `[B, T, F]`; output feature `[B, 1, t, F]`
    ///
    /// # Errors
    /// Wrong shape, non-finite input, bad lengths, or too few frames.
    pub fn forward(
        &self,
        x: Tensor<3>,
        lengths: Option<&[usize]>,
    ) -> crate::Result<FrontEndOutput> {
        check_input(&x, self.n_mels)?;
        let [batch, frames, _] = x.dims();
        let t = output_frames(frames, self.delta)?;
        let lengths = resolve_lengths(lengths, batch, frames)?;
        let pooled = adaptive_pool(x, &lengths, t, self.with_max); // [B, t, F]
        Ok(plain_output(pooled.unsqueeze_dim(1)))
    }
}

/// Configuration of [`ConvAvgPool`].
#[derive(Config, Debug)]
pub struct ConvAvgPoolConfig {
    /// Mel bins `F`.
    pub n_mels: usize,
    /// Dimension reduction rate.
    #[config(default = 0.5)]
    pub delta: f64,
}

impl ConvAvgPoolConfig {
    /// Builds the front end (493,824 parameters at `F = 128`).
    ///
    /// # Errors
    /// `delta` outside `[0, 1)` or zero mels.
    pub fn init(&self, device: &Device) -> crate::Result<ConvAvgPool> {
        crate::frames::check_delta(self.delta)?;
        if self.n_mels == 0 {
            return Err(crate::DiffResError::Config(
                "n_mels must be at least 1".into(),
            ));
        }
        let blocks = (0..3)
            .map(|_| ResConv1dConfig::new(self.n_mels, self.n_mels).init(device))
            .collect();
        Ok(ConvAvgPool {
            blocks,
            n_mels: self.n_mels,
            delta: self.delta,
        })
    }
}

/// Three residual convolution blocks at `F` channels, a residual to the input, then adaptive
/// average pooling: a learnable but fixed-resolution reduction.
#[derive(Module, Debug)]
pub struct ConvAvgPool {
    blocks: Vec<ResConv1d>,
    n_mels: usize,
    delta: f64,
}

impl ConvAvgPool {
    /// # Shapes
    /// - `x`: `[B, T, F]`; output feature `[B, 1, t, F]`
    ///
    /// # Errors
    /// Wrong shape, non-finite input, bad lengths, or too few frames.
    pub fn forward(
        &self,
        x: Tensor<3>,
        lengths: Option<&[usize]>,
    ) -> crate::Result<FrontEndOutput> {
        check_input(&x, self.n_mels)?;
        let [batch, frames, _] = x.dims();
        let t = output_frames(frames, self.delta)?;
        let lengths = resolve_lengths(lengths, batch, frames)?;
        let mask = lengths
            .iter()
            .any(|&l| l < frames)
            .then(|| valid_mask(&lengths, frames, &x.device()).reshape([batch, 1, frames]));
        let mut h = x.clone().swap_dims(1, 2); // [B, F, T]
        for block in &self.blocks {
            h = block.forward(h, mask.as_ref());
        }
        let h = h.swap_dims(1, 2) + x; // [B, T, F]
        let pooled = adaptive_pool(h, &lengths, t, false);
        Ok(plain_output(pooled.unsqueeze_dim(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_and_indices_match_pytorch() {
        // torch.nn.AdaptiveAvgPool1d(3) on 10 frames: [0,4), [3,7), [6,10)
        assert_eq!(adaptive_bins(10, 3), vec![(0, 4), (3, 7), (6, 10)]);
        assert_eq!(
            adaptive_bins(10, 5),
            vec![(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
        );
        // torch.linspace(0, 9, 4).long() = [0, 3, 6, 9]
        assert_eq!(ChangeHopSize::indices(10, 4), vec![0, 3, 6, 9]);
        assert_eq!(ChangeHopSize::indices(10, 1), vec![0]);
    }

    #[test]
    fn pooling_values_by_hand() {
        let device = Device::flex();
        let x = Tensor::<3>::from_data([[[1.0f32], [3.0], [2.0], [6.0]]], &device);
        let avg = AvgPool::new(1, 0.5)
            .unwrap()
            .forward(x.clone(), None)
            .unwrap();
        avg.feature
            .into_data()
            .assert_eq(&TensorData::from([[[[2.0f32], [4.0]]]]), false);
        let am = AvgPool::avg_max(1, 0.5)
            .unwrap()
            .forward(x.clone(), None)
            .unwrap();
        am.feature
            .into_data()
            .assert_eq(&TensorData::from([[[[2.5f32], [5.0]]]]), false);
        let hop = ChangeHopSize::new(1, 0.5)
            .unwrap()
            .forward(x, None)
            .unwrap();
        hop.feature
            .into_data()
            .assert_eq(&TensorData::from([[[[1.0f32], [6.0]]]]), false);
    }

    #[test]
    fn conv_avg_pool_has_the_papers_parameter_count() {
        let device = Device::flex();
        let net = ConvAvgPoolConfig::new(128).init(&device).unwrap();
        assert_eq!(crate::trainable_params(&net), 493_824);
    }
}
