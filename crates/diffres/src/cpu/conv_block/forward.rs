//! The block's forward passes: inference with running statistics, and training with batch
//! statistics (keeping what the backward pass needs).

use rayon::prelude::*;

use super::conv::{conv_sample, sample_mask, Padded};
use super::norm::{
    add_into, affine_of, first_norm, moments, normalize_in_place, statistics, Affine,
};
use super::{BlockDims, Saved, Weights};
use crate::cpu::strided::Strided3;

/// Output of the training forward pass.
pub(crate) struct Trained {
    pub out: Vec<f32>,
    pub saved: Saved,
    /// Batch statistics (mean, biased variance) of both norms, for the running averages.
    pub batch_stats: [(Vec<f32>, Vec<f32>); 2],
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
