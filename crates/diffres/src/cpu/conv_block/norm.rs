//! The block's batch norms: batch statistics (summed in `f64`), the per-channel affine map,
//! and its backward through the ReLU before it.

use super::Weights;

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

/// Per-channel sums of `v` and `v^2` of one sample `[C, T]`, in `f64`.
pub(super) fn moments(values: &[f32], frames: usize) -> Vec<f64> {
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

pub(super) fn add_into(mut a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
    a
}

/// Mean and biased variance from summed moments over `count` values.
pub(super) fn statistics(sums: &[f64], count: usize) -> (Vec<f32>, Vec<f32>) {
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

pub(super) fn affine_of(mean: &[f32], var: &[f32], epsilon: f64) -> Affine {
    Affine::running(mean, var, epsilon)
}

/// `y = gamma (a - mean) inv_std + beta`, in place.
pub(super) fn normalize_in_place(
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

/// `h1 = BN1(relu1)` of one sample (recomputed rather than stored: one multiply-add a value).
pub(super) fn first_norm(
    relu1: &[f32],
    frames: usize,
    saved_norm: &Affine,
    weights: &Weights,
) -> Vec<f32> {
    let mut h1 = relu1.to_vec();
    normalize_in_place(&mut h1, frames, saved_norm, &weights.gamma1, &weights.beta1);
    h1
}

/// Batch-norm backward for one sample, from the norm's summed `(sum g, sum g x_hat)`:
/// `g_a = gamma inv_std (g - sum g / N - x_hat sum(g x_hat) / N)`, then through the ReLU
/// (`relu_out > 0`). Writes into `grad` in place.
pub(super) fn norm_relu_backward(
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
pub(super) fn norm_sums(grad: &[f32], relu_out: &[f32], frames: usize, norm: &Affine) -> Vec<f64> {
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
