//! Forward and backward of one [`crate::ResConv1d`] block on the host, for Burn's flex CPU
//! backend: `h1 = BN1(relu(conv1(x m)))`, `out = h1 + BN2(relu(conv2(h1 m)))`, with `m` the
//! valid-frame mask.
//!
//! Why: Burn composes this block from ~20 tensor operations, each a pass over memory, with
//! convolutions whose backward runs at a fraction of the machine's speed. Here each convolution
//! is `kernel` strided matrix products per sample (no unfolded copy), the bias, ReLU and batch
//! norm are fused into the passes around them, the batch is split over the rayon pool, and
//! the backward computes only the gradients the graph asks for.
//!
//! Layout: activations are `[B, C, T]` row-major; weights are Burn's `[C_out, C_in, K]`.
//! Batch statistics are those of Burn's `batch_norm_train`: mean and biased variance over
//! `B T` (padding included), summed in `f64`.

use rayon::prelude::*;

use super::matmul::{matmul, View, ViewMut};
use super::strided::Strided3;

/// Sizes of a block.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockDims {
    pub batch: usize,
    pub channels_in: usize,
    pub channels_out: usize,
    pub frames: usize,
    pub kernel: usize,
    pub dilation: usize,
}

impl BlockDims {
    fn pad(&self) -> usize {
        self.dilation * (self.kernel - 1) / 2
    }

    fn padded(&self) -> usize {
        self.frames + 2 * self.pad()
    }

    /// Threads each sample's matrix products may use: all of them when there are fewer samples
    /// than threads, else one (the samples are spread over the threads instead).
    fn inner_threads(&self) -> usize {
        let threads = rayon::current_num_threads();
        if self.batch < threads {
            threads
        } else {
            1
        }
    }
}

/// The block's parameters, copied to the host.
#[derive(Clone, Debug)]
pub(crate) struct Weights {
    pub conv1: Vec<f32>,
    pub bias1: Vec<f32>,
    pub gamma1: Vec<f32>,
    pub beta1: Vec<f32>,
    pub conv2: Vec<f32>,
    pub bias2: Vec<f32>,
    pub gamma2: Vec<f32>,
    pub beta2: Vec<f32>,
}

/// Per-channel normalisation `y = gamma (a - mean) inv_std + beta`.
#[derive(Clone, Debug)]
pub(crate) struct Affine {
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
}

impl Affine {
    /// From running statistics.
    pub fn running(mean: &[f32], var: &[f32], epsilon: f64) -> Self {
        Self {
            mean: mean.to_vec(),
            inv_std: var
                .iter()
                .map(|&v| (1.0 / (v as f64 + epsilon).sqrt()) as f32)
                .collect(),
        }
    }
}

/// What the training forward pass keeps for the backward pass.
pub(crate) struct Saved {
    pub relu1: Vec<f32>,
    pub relu2: Vec<f32>,
    pub norm1: Affine,
    pub norm2: Affine,
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saved")
            .field("relu1", &self.relu1.len())
            .field("relu2", &self.relu2.len())
            .finish()
    }
}

/// Output of the training forward pass.
pub(crate) struct Trained {
    pub out: Vec<f32>,
    pub saved: Saved,
    /// Batch statistics (mean, biased variance) of both norms, for the running averages.
    pub batch_stats: [(Vec<f32>, Vec<f32>); 2],
}

/// One sample's convolution input, zero-padded in time and masked, stored in the layout that
/// reads the source contiguously: channel-major `[C, T + 2 pad]`, or time-major
/// `[T + 2 pad, C]` when the source's channels are adjacent in memory (the importance net's
/// first input is a transposed view of `[B, T, F]`: copying it time-major avoids a strided
/// transpose; the matrix products read either layout through strides).
struct Padded {
    data: Vec<f32>,
    channels: usize,
    time_major: bool,
}

impl Padded {
    /// Sample `b` of `input` (`[B, C, T]`) times `mask` (`[B, T]`, indexed with `b`).
    fn new(
        input: Strided3<'_>,
        b: usize,
        channels: usize,
        dims: &BlockDims,
        mask: Option<&[f32]>,
    ) -> Self {
        let (frames, pad, padded) = (dims.frames, dims.pad(), dims.padded());
        let mask = mask.map(|m| &m[b * frames..(b + 1) * frames]);
        let [_, sc, st] = input.strides;
        let time_major = sc == 1 && st != 1 && channels > 1;
        let mut data = vec![0.0f32; channels * padded];
        if time_major {
            for t in 0..frames {
                let dst = &mut data[(t + pad) * channels..(t + pad + 1) * channels];
                let start = input.offset + b * input.strides[0] + t * st;
                dst.copy_from_slice(&input.data[start..start + channels]);
                if let Some(mask) = mask {
                    let m = mask[t];
                    for v in dst.iter_mut() {
                        *v *= m;
                    }
                }
            }
        } else {
            for c in 0..channels {
                let dst = &mut data[c * padded + pad..c * padded + pad + frames];
                input.row(b, c, dst);
                if let Some(mask) = mask {
                    for (v, m) in dst.iter_mut().zip(mask) {
                        *v *= m;
                    }
                }
            }
        }
        Self {
            data,
            channels,
            time_major,
        }
    }

    /// Tap `d` as a `[C, T]` matrix (`x[:, t + d dilation]`).
    fn tap(&self, d: usize, dims: &BlockDims) -> View<'_> {
        let shift = d * dims.dilation;
        if self.time_major {
            View::new(&self.data, shift * self.channels, 1, self.channels)
        } else {
            View::new(&self.data, shift, dims.padded(), 1)
        }
    }

    /// Tap `d` as a `[T, C]` matrix (the transpose of [`Padded::tap`]).
    fn tap_transposed(&self, d: usize, dims: &BlockDims) -> View<'_> {
        let shift = d * dims.dilation;
        if self.time_major {
            View::new(&self.data, shift * self.channels, self.channels, 1)
        } else {
            View::new(&self.data, shift, 1, dims.padded())
        }
    }
}

/// `out = bias + sum_d W[:, :, d] · padded[:, d dilation ..]` for one sample.
fn conv_sample(
    weight: &[f32],
    bias: &[f32],
    padded_input: &Padded,
    (cin, cout): (usize, usize),
    dims: &BlockDims,
    out: &mut [f32],
) {
    let (frames, kernel) = (dims.frames, dims.kernel);
    for (row, &b) in out.chunks_mut(frames).zip(bias) {
        row.fill(b);
    }
    for d in 0..kernel {
        matmul(
            (cout, frames, cin),
            ViewMut::new(out, 0, frames, 1),
            View::new(weight, d, cin * kernel, kernel),
            padded_input.tap(d, dims),
            true,
            dims.inner_threads(),
        );
    }
}

/// `grad_weight[:, :, d] += grad_out · padded[:, d dilation ..]^T` and `grad_bias += sum_t`.
fn conv_weight_grad_sample(
    grad_out: &[f32],
    padded_input: &Padded,
    (cin, cout): (usize, usize),
    dims: &BlockDims,
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
) {
    let (frames, kernel) = (dims.frames, dims.kernel);
    for (gb, row) in grad_bias.iter_mut().zip(grad_out.chunks(frames)) {
        *gb += row.iter().map(|&v| v as f64).sum::<f64>() as f32;
    }
    for d in 0..kernel {
        matmul(
            (cout, cin, frames),
            ViewMut::new(grad_weight, d, cin * kernel, kernel),
            View::new(grad_out, 0, frames, 1),
            padded_input.tap_transposed(d, dims),
            true,
            dims.inner_threads(),
        );
    }
}

/// `grad_padded[:, d dilation ..] += W[:, :, d]^T · grad_out` (the full padded width is
/// written; the caller reads the middle).
fn conv_input_grad_sample(
    weight: &[f32],
    grad_out: &[f32],
    (cin, cout): (usize, usize),
    dims: &BlockDims,
    grad_padded: &mut [f32],
) {
    let (frames, kernel, padded) = (dims.frames, dims.kernel, dims.padded());
    grad_padded.fill(0.0);
    for d in 0..kernel {
        matmul(
            (cin, frames, cout),
            ViewMut::new(grad_padded, d * dims.dilation, padded, 1),
            View::new(weight, d, kernel, cin * kernel),
            View::new(grad_out, 0, frames, 1),
            true,
            dims.inner_threads(),
        );
    }
}

/// Per-channel sums of `v` and `v^2` of one sample `[C, T]`, in `f64`.
fn moments(values: &[f32], frames: usize) -> Vec<f64> {
    let channels = values.len() / frames;
    let mut out = vec![0.0; 2 * channels];
    for (c, row) in values.chunks(frames).enumerate() {
        let (mut s, mut q) = (0.0f64, 0.0f64);
        for &v in row {
            s += v as f64;
            q += (v as f64) * (v as f64);
        }
        out[c] = s;
        out[channels + c] = q;
    }
    out
}

fn add_into(mut a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
    a
}

/// Mean and biased variance from summed moments over `count` values.
fn statistics(sums: &[f64], count: usize) -> (Vec<f32>, Vec<f32>) {
    let channels = sums.len() / 2;
    let n = count as f64;
    (0..channels)
        .map(|c| {
            let mean = sums[c] / n;
            let var = (sums[channels + c] / n - mean * mean).max(0.0);
            (mean as f32, var as f32)
        })
        .unzip()
}

fn affine_of(mean: &[f32], var: &[f32], epsilon: f64) -> Affine {
    Affine::running(mean, var, epsilon)
}

/// `y = gamma (a - mean) inv_std + beta`, in place.
fn normalize_in_place(
    values: &mut [f32],
    frames: usize,
    norm: &Affine,
    gamma: &[f32],
    beta: &[f32],
) {
    for (c, row) in values.chunks_mut(frames).enumerate() {
        let scale = gamma[c] * norm.inv_std[c];
        let shift = beta[c] - norm.mean[c] * scale;
        for v in row {
            *v = *v * scale + shift;
        }
    }
}

fn relu_in_place(values: &mut [f32]) {
    for v in values {
        *v = v.max(0.0);
    }
}

/// `relu(conv1(x m))` of sample `b` into `out` (`[C_out, T]`).
fn first_conv_relu(
    input: Strided3<'_>,
    b: usize,
    mask: Option<&[f32]>,
    dims: &BlockDims,
    weights: &Weights,
    out: &mut [f32],
) {
    let padded = Padded::new(input, b, dims.channels_in, dims, mask);
    let channels = (dims.channels_in, dims.channels_out);
    conv_sample(&weights.conv1, &weights.bias1, &padded, channels, dims, out);
    relu_in_place(out);
}

/// `relu(conv2(h1 m))` of sample `b` into `out`, from its `h1` (`[C_out, T]`).
fn second_conv_relu(
    h1: &[f32],
    b: usize,
    mask: Option<&[f32]>,
    dims: &BlockDims,
    weights: &Weights,
    out: &mut [f32],
) {
    let (cout, frames) = (dims.channels_out, dims.frames);
    let h1 = Strided3::contiguous(h1, cout, frames);
    let padded = Padded::new(h1, 0, cout, dims, sample_mask(mask, b, frames));
    conv_sample(
        &weights.conv2,
        &weights.bias2,
        &padded,
        (cout, cout),
        dims,
        out,
    );
    relu_in_place(out);
}

/// Inference forward with fixed (running) statistics. Returns `[B, C_out, T]`.
pub(crate) fn forward_inference(
    dims: &BlockDims,
    weights: &Weights,
    norms: [&Affine; 2],
    input: Strided3<'_>,
    mask: Option<&[f32]>,
) -> Vec<f32> {
    let (cout, frames) = (dims.channels_out, dims.frames);
    let mut out = vec![0.0f32; dims.batch * cout * frames];
    out.par_chunks_mut(cout * frames)
        .enumerate()
        .for_each(|(b, out)| {
            let mut h1 = vec![0.0f32; cout * frames];
            first_conv_relu(input, b, mask, dims, weights, &mut h1);
            normalize_in_place(&mut h1, frames, norms[0], &weights.gamma1, &weights.beta1);
            second_conv_relu(&h1, b, mask, dims, weights, out);
            normalize_in_place(out, frames, norms[1], &weights.gamma2, &weights.beta2);
            for (o, h) in out.iter_mut().zip(&h1) {
                *o += h;
            }
        });
    out
}

/// Sample `b`'s mask.
fn sample_mask(mask: Option<&[f32]>, b: usize, frames: usize) -> Option<&[f32]> {
    mask.map(|m| &m[b * frames..(b + 1) * frames])
}

/// `h1 = BN1(relu1)` of one sample (recomputed rather than stored: one multiply-add a value).
fn first_norm(relu1: &[f32], frames: usize, saved_norm: &Affine, weights: &Weights) -> Vec<f32> {
    let mut h1 = relu1.to_vec();
    normalize_in_place(&mut h1, frames, saved_norm, &weights.gamma1, &weights.beta1);
    h1
}

/// Training forward with batch statistics. Returns the output `[B, C_out, T]`, what the
/// backward pass needs, and the batch statistics.
pub(crate) fn forward_train(
    dims: &BlockDims,
    weights: &Weights,
    epsilons: [f64; 2],
    input: Strided3<'_>,
    mask: Option<&[f32]>,
) -> Trained {
    let (cout, frames) = (dims.channels_out, dims.frames);
    let sample = cout * frames;
    let count = dims.batch * frames;
    let zeros = || vec![0.0f64; 2 * cout];

    // relu(conv1(x m)) and its moments.
    let mut relu1 = vec![0.0f32; dims.batch * sample];
    let sums1 = relu1
        .par_chunks_mut(sample)
        .enumerate()
        .map(|(b, a)| {
            first_conv_relu(input, b, mask, dims, weights, a);
            moments(a, frames)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold(zeros(), add_into);
    let (mean1, var1) = statistics(&sums1, count);
    let norm1 = affine_of(&mean1, &var1, epsilons[0]);

    // h1 = BN1(.), relu(conv2(h1 m)) and its moments.
    let mut relu2 = vec![0.0f32; dims.batch * sample];
    let sums2 = relu2
        .par_chunks_mut(sample)
        .zip(relu1.par_chunks(sample))
        .enumerate()
        .map(|(b, (a2, a1))| {
            let h1 = first_norm(a1, frames, &norm1, weights);
            second_conv_relu(&h1, b, mask, dims, weights, a2);
            moments(a2, frames)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold(zeros(), add_into);
    let (mean2, var2) = statistics(&sums2, count);
    let norm2 = affine_of(&mean2, &var2, epsilons[1]);

    // out = h1 + BN2(.)
    let mut out = relu2.clone();
    out.par_chunks_mut(sample)
        .zip(relu1.par_chunks(sample))
        .for_each(|(o, a1)| {
            normalize_in_place(o, frames, &norm2, &weights.gamma2, &weights.beta2);
            for c in 0..cout {
                let scale = weights.gamma1[c] * norm1.inv_std[c];
                let shift = weights.beta1[c] - norm1.mean[c] * scale;
                let rows = c * frames..(c + 1) * frames;
                for (o, &a) in o[rows.clone()].iter_mut().zip(&a1[rows]) {
                    *o += a * scale + shift;
                }
            }
        });
    Trained {
        out,
        saved: Saved {
            relu1,
            relu2,
            norm1,
            norm2,
        },
        batch_stats: [(mean1, var1), (mean2, var2)],
    }
}

/// Gradients of a block: the input's (`None` when the graph did not ask) and the eight
/// parameters', laid out as the parameters themselves.
pub(crate) struct Grads {
    pub input: Option<Vec<f32>>,
    pub params: Weights,
}

/// One sample's share of a convolution's parameter gradients and of the next norm's sums.
/// Shares are merged in sample order, so results do not depend on thread scheduling.
struct ConvAcc {
    weight: Vec<f32>,
    bias: Vec<f32>,
    sums: Vec<f64>,
}

impl ConvAcc {
    fn new(weights: usize, channels: usize, sums: usize) -> Self {
        Self {
            weight: vec![0.0; weights],
            bias: vec![0.0; channels],
            sums: vec![0.0; sums],
        }
    }

    fn merge(mut self, other: Self) -> Self {
        for (a, b) in self.weight.iter_mut().zip(other.weight) {
            *a += b;
        }
        for (a, b) in self.bias.iter_mut().zip(other.bias) {
            *a += b;
        }
        for (a, b) in self.sums.iter_mut().zip(other.sums) {
            *a += b;
        }
        self
    }
}

/// Batch-norm backward for one sample, from the norm's summed `(sum g, sum g x_hat)`:
/// `g_a = gamma inv_std (g - sum g / N - x_hat sum(g x_hat) / N)`, then through the ReLU
/// (`relu_out > 0`). Writes into `grad` in place.
fn norm_relu_backward(
    grad: &mut [f32],
    relu_out: &[f32],
    frames: usize,
    norm: &Affine,
    gamma: &[f32],
    sums: &[f64],
    count: usize,
) {
    let channels = grad.len() / frames;
    for c in 0..channels {
        let inv = norm.inv_std[c];
        let mean_g = (sums[c] / count as f64) as f32;
        let mean_gx = (sums[channels + c] / count as f64) as f32;
        let scale = gamma[c] * inv;
        let rows = c * frames..(c + 1) * frames;
        for (g, &a) in grad[rows.clone()].iter_mut().zip(&relu_out[rows]) {
            let x_hat = (a - norm.mean[c]) * inv;
            let ga = scale * (*g - mean_g - x_hat * mean_gx);
            *g = if a > 0.0 { ga } else { 0.0 };
        }
    }
}

/// Per-channel `(sum g, sum g x_hat)` of one sample, with `x_hat` from `relu_out`.
fn norm_sums(grad: &[f32], relu_out: &[f32], frames: usize, norm: &Affine) -> Vec<f64> {
    let channels = grad.len() / frames;
    let mut out = vec![0.0f64; 2 * channels];
    for c in 0..channels {
        let rows = c * frames..(c + 1) * frames;
        let (mut s, mut sx) = (0.0f64, 0.0f64);
        for (&g, &a) in grad[rows.clone()].iter().zip(&relu_out[rows]) {
            let x_hat = (a - norm.mean[c]) * norm.inv_std[c];
            s += g as f64;
            sx += (g * x_hat) as f64;
        }
        out[c] = s;
        out[channels + c] = sx;
    }
    out
}

/// Backward of [`forward_train`] given `grad_out` (`[B, C_out, T]`). The input gradient is
/// computed only when `input_grad` is set.
pub(crate) fn backward(
    dims: &BlockDims,
    weights: &Weights,
    saved: &Saved,
    input: Strided3<'_>,
    mask: Option<&[f32]>,
    grad_out: &[f32],
    input_grad: bool,
) -> Grads {
    let (cin, cout, frames) = (dims.channels_in, dims.channels_out, dims.frames);
    let sample = cout * frames;
    let count = dims.batch * frames;
    let zeros = || vec![0.0f64; 2 * cout];

    // Norm 2: sums of g and g x_hat over (B, T).
    let sums2 = grad_out
        .par_chunks(sample)
        .zip(saved.relu2.par_chunks(sample))
        .map(|(g, a2)| norm_sums(g, a2, frames, &saved.norm2))
        .collect::<Vec<_>>()
        .into_iter()
        .fold(zeros(), add_into);
    let beta2: Vec<f32> = sums2[..cout].iter().map(|&v| v as f32).collect();
    let gamma2: Vec<f32> = sums2[cout..].iter().map(|&v| v as f32).collect();

    // Conv 2 and the gradient reaching h1 (the residual path plus conv 2's input gradient).
    let mut grad_h1 = vec![0.0f32; dims.batch * sample];
    let acc2 = grad_h1
        .par_chunks_mut(sample)
        .enumerate()
        .map(|(b, g_h1)| {
            let mut acc = ConvAcc::new(weights.conv2.len(), cout, 2 * cout);
            let rows = b * sample..(b + 1) * sample;
            let mut g_z2 = grad_out[rows.clone()].to_vec();
            norm_relu_backward(
                &mut g_z2,
                &saved.relu2[rows.clone()],
                frames,
                &saved.norm2,
                &weights.gamma2,
                &sums2,
                count,
            );
            let sample_mask = sample_mask(mask, b, frames);
            let h1 = first_norm(&saved.relu1[rows.clone()], frames, &saved.norm1, weights);
            let padded = Padded::new(
                Strided3::contiguous(&h1, cout, frames),
                0,
                cout,
                dims,
                sample_mask,
            );
            drop(h1);
            conv_weight_grad_sample(
                &g_z2,
                &padded,
                (cout, cout),
                dims,
                &mut acc.weight,
                &mut acc.bias,
            );
            drop(padded);
            let mut buf = vec![0.0f32; cout * dims.padded()];
            conv_input_grad_sample(&weights.conv2, &g_z2, (cout, cout), dims, &mut buf);
            let pad = dims.pad();
            for c in 0..cout {
                let from = &buf[c * dims.padded() + pad..c * dims.padded() + pad + frames];
                let to = &mut g_h1[c * frames..(c + 1) * frames];
                let residual = &grad_out[rows.start + c * frames..rows.start + (c + 1) * frames];
                match sample_mask {
                    Some(m) => {
                        for (((t, &f), &r), &m) in to.iter_mut().zip(from).zip(residual).zip(m) {
                            *t = r + f * m;
                        }
                    }
                    None => {
                        for ((t, &f), &r) in to.iter_mut().zip(from).zip(residual) {
                            *t = r + f;
                        }
                    }
                }
            }
            acc.sums = norm_sums(g_h1, &saved.relu1[rows], frames, &saved.norm1);
            acc
        })
        .collect::<Vec<_>>()
        .into_iter()
        .reduce(ConvAcc::merge)
        .expect("a batch of at least one sample");
    let sums1 = &acc2.sums;
    let beta1: Vec<f32> = sums1[..cout].iter().map(|&v| v as f32).collect();
    let gamma1: Vec<f32> = sums1[cout..].iter().map(|&v| v as f32).collect();

    // Norm 1, ReLU 1 and conv 1 (its input gradient only if asked for).
    let mut grad_input = if input_grad {
        vec![0.0f32; dims.batch * cin * frames]
    } else {
        Vec::new()
    };
    let in_sample = if input_grad { cin * frames } else { 0 };
    let mut input_chunks: Vec<&mut [f32]> = if input_grad {
        grad_input.chunks_mut(in_sample).collect()
    } else {
        (0..dims.batch).map(|_| <&mut [f32]>::default()).collect()
    };
    let acc1 = grad_h1
        .par_chunks_mut(sample)
        .zip(input_chunks.par_iter_mut())
        .enumerate()
        .map(|(b, (g_z1, g_x))| {
            let mut acc = ConvAcc::new(weights.conv1.len(), cout, 0);
            let rows = b * sample..(b + 1) * sample;
            norm_relu_backward(
                g_z1,
                &saved.relu1[rows],
                frames,
                &saved.norm1,
                &weights.gamma1,
                sums1,
                count,
            );
            let padded = Padded::new(input, b, cin, dims, mask);
            conv_weight_grad_sample(
                g_z1,
                &padded,
                (cin, cout),
                dims,
                &mut acc.weight,
                &mut acc.bias,
            );
            if input_grad {
                drop(padded);
                let mut buf = vec![0.0f32; cin * dims.padded()];
                conv_input_grad_sample(&weights.conv1, g_z1, (cin, cout), dims, &mut buf);
                let pad = dims.pad();
                let sample_mask = sample_mask(mask, b, frames);
                for c in 0..cin {
                    let from = &buf[c * dims.padded() + pad..c * dims.padded() + pad + frames];
                    let to = &mut g_x[c * frames..(c + 1) * frames];
                    to.copy_from_slice(from);
                    if let Some(m) = sample_mask {
                        for (t, &m) in to.iter_mut().zip(m) {
                            *t *= m;
                        }
                    }
                }
            }
            acc
        })
        .collect::<Vec<_>>()
        .into_iter()
        .reduce(ConvAcc::merge)
        .expect("a batch of at least one sample");
    Grads {
        input: input_grad.then_some(grad_input),
        params: Weights {
            conv1: acc1.weight,
            bias1: acc1.bias,
            gamma1,
            beta1,
            conv2: acc2.weight,
            bias2: acc2.bias,
            gamma2,
            beta2,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    /// Gradients are merged in sample order: the same bits on 1 thread as on 3.
    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let dims = BlockDims {
            batch: 5,
            channels_in: 4,
            channels_out: 3,
            frames: 40,
            kernel: 5,
            dilation: 2,
        };
        let weights = Weights {
            conv1: values(3 * 4 * 5, 1),
            bias1: values(3, 2),
            gamma1: values(3, 3),
            beta1: values(3, 4),
            conv2: values(3 * 3 * 5, 5),
            bias2: values(3, 6),
            gamma2: values(3, 7),
            beta2: values(3, 8),
        };
        let x = values(5 * 4 * 40, 9);
        let mask: Vec<f32> = (0..5 * 40).map(|i| (i % 40 < 30) as u8 as f32).collect();
        let grad = values(5 * 3 * 40, 10);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let input = Strided3::contiguous(&x, 4, 40);
                let trained = forward_train(&dims, &weights, [1e-5, 1e-5], input, Some(&mask));
                let g = backward(
                    &dims,
                    &weights,
                    &trained.saved,
                    input,
                    Some(&mask),
                    &grad,
                    true,
                );
                (
                    trained.out,
                    g.input.unwrap(),
                    g.params.conv1,
                    g.params.conv2,
                    g.params.gamma1,
                    g.params.bias2,
                )
            })
        };
        assert!(run(1) == run(3));
    }
}
