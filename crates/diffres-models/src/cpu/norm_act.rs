//! Batch norm over the channels of NCHW data fused with the activation after it, on the
//! host: `y = act(gamma (a - mean) / sqrt(var + epsilon) + beta)`, forward and backward, with
//! batch statistics (training) or given ones (inference, or a frozen norm).
//!
//! Statistics are summed per channel in `f64`, sample by sample in order, so they do not
//! depend on the number of threads. The backward pass recomputes the normalised values from
//! the saved input instead of keeping them: one tensor saved per norm, as in the forward.

use diffres::kernel_support::{exp, vectorized};
use rayon::prelude::*;

/// The activation after a batch norm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Activation {
    /// None.
    Identity,
    /// `max(z, 0)`.
    Relu,
    /// `z sigmoid(z)` (swish).
    Silu,
}

/// An activation's value and slope, monomorphised so the loops over a plane vectorise.
trait Act: Copy + Send + Sync {
    fn apply(z: f32) -> f32;
    /// `d act / d z` at `z`.
    fn slope(z: f32) -> f32;
}

#[derive(Clone, Copy)]
struct Identity;
#[derive(Clone, Copy)]
struct Relu;
#[derive(Clone, Copy)]
struct Silu;

impl Act for Identity {
    #[inline(always)]
    fn apply(z: f32) -> f32 {
        z
    }
    #[inline(always)]
    fn slope(_: f32) -> f32 {
        1.0
    }
}

impl Act for Relu {
    #[inline(always)]
    fn apply(z: f32) -> f32 {
        z.max(0.0)
    }
    #[inline(always)]
    fn slope(z: f32) -> f32 {
        if z > 0.0 {
            1.0
        } else {
            0.0
        }
    }
}

impl Act for Silu {
    #[inline(always)]
    fn apply(z: f32) -> f32 {
        z / (1.0 + exp(-z))
    }
    #[inline(always)]
    fn slope(z: f32) -> f32 {
        let s = 1.0 / (1.0 + exp(-z));
        s * (1.0 + z * (1.0 - s))
    }
}

/// Lanes of the partial sums (independent accumulators, so the sums vectorise).
const LANES: usize = 16;

/// `sum f(v)` over a slice, in `LANES` `f32` partial sums added in `f64`. (Plain loops, not
/// iterator adaptors: they must inline into [`vectorized`]'s target.)
#[inline(always)]
pub(crate) fn lane_sum(v: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut acc = [0.0f32; LANES];
    let chunks = v.chunks_exact(LANES);
    let mut total = 0.0f64;
    for &x in chunks.remainder() {
        total += f(x) as f64;
    }
    for chunk in chunks {
        for k in 0..LANES {
            acc[k] += f(chunk[k]);
        }
    }
    for a in acc {
        total += a as f64;
    }
    total
}

/// `(sum f(a, g).0, sum f(a, g).1)` over two slices of one length, as [`lane_sum`].
#[inline(always)]
pub(crate) fn lane_sum2(a: &[f32], g: &[f32], f: impl Fn(f32, f32) -> (f32, f32)) -> (f64, f64) {
    let (mut acc0, mut acc1) = ([0.0f32; LANES], [0.0f32; LANES]);
    let (ca, cg) = (a.chunks_exact(LANES), g.chunks_exact(LANES));
    let mut total = (0.0f64, 0.0f64);
    for (&x, &y) in ca.remainder().iter().zip(cg.remainder()) {
        let (u, v) = f(x, y);
        total.0 += u as f64;
        total.1 += v as f64;
    }
    for (xa, xg) in ca.zip(cg) {
        for k in 0..LANES {
            let (u, v) = f(xa[k], xg[k]);
            acc0[k] += u;
            acc1[k] += v;
        }
    }
    for k in 0..LANES {
        total.0 += acc0[k] as f64;
        total.1 += acc1[k] as f64;
    }
    total
}

/// Sizes: `[batch, channels, plane]` (plane = height x width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NormDims {
    pub batch: usize,
    pub channels: usize,
    pub plane: usize,
}

impl NormDims {
    /// Values per channel.
    fn count(&self) -> usize {
        self.batch * self.plane
    }

    /// Channel `c`'s plane in sample `b`, as a range of indices.
    fn range(&self, b: usize, c: usize) -> std::ops::Range<usize> {
        let start = (b * self.channels + c) * self.plane;
        start..start + self.plane
    }
}

/// Per-channel mean and biased variance of `a` over batch and plane (two passes: the mean,
/// then the squares about it).
pub(crate) fn batch_stats(d: &NormDims, a: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let n = d.count() as f64;
    let stats: Vec<(f32, f32)> = (0..d.channels)
        .into_par_iter()
        .map(|c| {
            vectorized(
                #[inline(always)]
                || {
                    let mut sum = 0.0f64;
                    for b in 0..d.batch {
                        sum += lane_sum(&a[d.range(b, c)], |v| v);
                    }
                    let m = (sum / n) as f32;
                    let mut squares = 0.0f64;
                    for b in 0..d.batch {
                        squares += lane_sum(&a[d.range(b, c)], |v| (v - m) * (v - m));
                    }
                    (m, (squares / n) as f32)
                },
            )
        })
        .collect();
    stats.into_iter().unzip()
}

/// `1 / sqrt(var + epsilon)` per channel.
pub(crate) fn inv_std(var: &[f32], epsilon: f64) -> Vec<f32> {
    var.iter()
        .map(|&v| (1.0 / (v as f64 + epsilon).sqrt()) as f32)
        .collect()
}

/// The per-channel statistics a pass normalises with.
pub(crate) struct Norm<'a> {
    pub mean: &'a [f32],
    pub inv_std: &'a [f32],
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
}

impl Norm<'_> {
    /// Channel `c`'s `(scale, shift)`: `z = a scale + shift`.
    #[inline(always)]
    fn affine(&self, c: usize) -> (f32, f32) {
        let scale = self.gamma[c] * self.inv_std[c];
        (scale, self.beta[c] - self.mean[c] * scale)
    }
}

/// `act(gamma (a - mean) inv_std + beta)`.
pub(crate) fn forward(d: &NormDims, a: &[f32], norm: &Norm<'_>, act: Activation) -> Vec<f32> {
    match act {
        Activation::Identity => forward_with::<Identity>(d, a, norm),
        Activation::Relu => forward_with::<Relu>(d, a, norm),
        Activation::Silu => forward_with::<Silu>(d, a, norm),
    }
}

fn forward_with<A: Act>(d: &NormDims, a: &[f32], norm: &Norm<'_>) -> Vec<f32> {
    let mut y = vec![0.0f32; a.len()];
    y.par_chunks_mut(d.plane)
        .zip(a.par_chunks(d.plane))
        .enumerate()
        .for_each(|(plane, (y, a))| {
            let (scale, shift) = norm.affine(plane % d.channels);
            vectorized(
                #[inline(always)]
                || {
                    for (y, &a) in y.iter_mut().zip(a) {
                        *y = A::apply(a * scale + shift);
                    }
                },
            )
        });
    y
}

/// Gradients of [`forward`] given `dy`: `(da, dgamma, dbeta)`. With `batch` the statistics
/// are the batch's own (training: the mean and variance depend on `a`); without, they are
/// constants (inference statistics). `da` only when `want_input`.
pub(crate) fn backward(
    d: &NormDims,
    a: &[f32],
    norm: &Norm<'_>,
    act: Activation,
    dy: &[f32],
    batch: bool,
    want_input: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let pass = Backward {
        d,
        a,
        norm,
        dy,
        batch,
        want_input,
    };
    match act {
        Activation::Identity => pass.run::<Identity>(),
        Activation::Relu => pass.run::<Relu>(),
        Activation::Silu => pass.run::<Silu>(),
    }
}

struct Backward<'a> {
    d: &'a NormDims,
    a: &'a [f32],
    norm: &'a Norm<'a>,
    dy: &'a [f32],
    batch: bool,
    want_input: bool,
}

impl Backward<'_> {
    fn run<A: Act>(&self) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
        let (d, a, norm, dy) = (self.d, self.a, self.norm, self.dy);
        // dz = dy act'(z); dbeta = sum dz; dgamma = sum dz xhat.
        let sums: Vec<(f64, f64)> = (0..d.channels)
            .into_par_iter()
            .map(|c| {
                let (scale, shift) = norm.affine(c);
                let (mean, inv) = (norm.mean[c], norm.inv_std[c]);
                vectorized(
                    #[inline(always)]
                    || {
                        let mut total = (0.0f64, 0.0f64);
                        for b in 0..d.batch {
                            let range = d.range(b, c);
                            let (sb, sg) = lane_sum2(&a[range.clone()], &dy[range], |a, g| {
                                let dz = g * A::slope(a * scale + shift);
                                (dz, dz * (a - mean) * inv)
                            });
                            total.0 += sb;
                            total.1 += sg;
                        }
                        total
                    },
                )
            })
            .collect();
        let dbeta: Vec<f32> = sums.iter().map(|s| s.0 as f32).collect();
        let dgamma: Vec<f32> = sums.iter().map(|s| s.1 as f32).collect();
        let da = self.want_input.then(|| {
            let n = d.count() as f32;
            let mut da = vec![0.0f32; a.len()];
            da.par_chunks_mut(d.plane)
                .zip(a.par_chunks(d.plane).zip(dy.par_chunks(d.plane)))
                .enumerate()
                .for_each(|(plane, (da, (a, dy)))| {
                    let c = plane % d.channels;
                    let (scale, shift) = norm.affine(c);
                    let (mean, inv) = (norm.mean[c], norm.inv_std[c]);
                    let (mb, mg) = if self.batch {
                        (dbeta[c] / n, dgamma[c] / n)
                    } else {
                        (0.0, 0.0)
                    };
                    vectorized(
                        #[inline(always)]
                        || {
                            for ((da, &a), &g) in da.iter_mut().zip(a).zip(dy) {
                                let dz = g * A::slope(a * scale + shift);
                                *da = scale * (dz - mb - (a - mean) * inv * mg);
                            }
                        },
                    )
                });
            da
        });
        (da, dgamma, dbeta)
    }
}

#[cfg(test)]
mod tests {
    use super::super::geometry::test_support::values as unit_values;
    use super::*;

    /// Values in [-2, 2].
    fn values(n: usize, seed: u32) -> Vec<f32> {
        unit_values(n, seed).into_iter().map(|v| 2.0 * v).collect()
    }

    /// `sum(w act(norm(a)))` in `f64`, with the batch's statistics or fixed ones.
    fn objective(d: &NormDims, a: &[f64], p: &Params, act: Activation, w: &[f32]) -> f64 {
        let n = d.count() as f64;
        let mut total = 0.0;
        for c in 0..d.channels {
            let (mean, var) = match &p.fixed {
                Some((m, v)) => (m[c] as f64, v[c] as f64),
                None => {
                    let vals: Vec<f64> = (0..d.batch)
                        .flat_map(|b| a[d.range(b, c)].to_vec())
                        .collect();
                    let mean = vals.iter().sum::<f64>() / n;
                    (
                        mean,
                        vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n,
                    )
                }
            };
            for b in 0..d.batch {
                for i in d.range(b, c) {
                    let z = p.gamma[c] * (a[i] - mean) / (var + p.eps).sqrt() + p.beta[c];
                    let y = match act {
                        Activation::Identity => z,
                        Activation::Relu => z.max(0.0),
                        Activation::Silu => z / (1.0 + (-z).exp()),
                    };
                    total += w[i] as f64 * y;
                }
            }
        }
        total
    }

    struct Params {
        gamma: Vec<f64>,
        beta: Vec<f64>,
        eps: f64,
        fixed: Option<(Vec<f32>, Vec<f32>)>,
    }

    #[test]
    fn gradients_match_finite_differences_in_training_and_inference() {
        let d = NormDims {
            batch: 3,
            channels: 2,
            plane: 5,
        };
        let a = values(d.batch * d.channels * d.plane, 1);
        let w = values(a.len(), 2);
        let (gamma, beta) = (vec![1.3f32, -0.7], vec![0.2f32, 0.5]);
        for act in [Activation::Identity, Activation::Relu, Activation::Silu] {
            for training in [true, false] {
                let (mean, var) = if training {
                    batch_stats(&d, &a)
                } else {
                    (vec![0.1, -0.3], vec![0.8, 1.7])
                };
                let eps = 1e-3;
                let inv = inv_std(&var, eps);
                let norm = Norm {
                    mean: &mean,
                    inv_std: &inv,
                    gamma: &gamma,
                    beta: &beta,
                };
                let (da, dgamma, dbeta) = backward(&d, &a, &norm, act, &w, training, true);
                let da = da.unwrap();
                let params = |g: &[f32], b: &[f32]| Params {
                    gamma: g.iter().map(|&v| v as f64).collect(),
                    beta: b.iter().map(|&v| v as f64).collect(),
                    eps,
                    fixed: (!training).then(|| (mean.clone(), var.clone())),
                };
                let a64: Vec<f64> = a.iter().map(|&v| v as f64).collect();
                // The forward pass itself.
                let y = forward(&d, &a, &norm, act);
                let direct: f64 = y.iter().zip(&w).map(|(y, w)| *y as f64 * *w as f64).sum();
                let reference = objective(&d, &a64, &params(&gamma, &beta), act, &w);
                assert!(
                    (direct - reference).abs() < 1e-4 * (1.0 + reference.abs()),
                    "{act:?} {training}"
                );
                let h = 1e-5;
                for i in 0..a.len() {
                    let (mut up, mut down) = (a64.clone(), a64.clone());
                    up[i] += h;
                    down[i] -= h;
                    let p = params(&gamma, &beta);
                    let fd = (objective(&d, &up, &p, act, &w) - objective(&d, &down, &p, act, &w))
                        / (2.0 * h);
                    assert!(
                        (da[i] as f64 - fd).abs() < 2e-3 * (1.0 + fd.abs()),
                        "{act:?} training {training}: da[{i}] {} vs {fd}",
                        da[i]
                    );
                }
                for c in 0..d.channels {
                    let shift = |v: &[f32], by: f32| {
                        let mut v = v.to_vec();
                        v[c] += by;
                        v
                    };
                    let hf = 1e-3f32;
                    let fd_gamma =
                        (objective(&d, &a64, &params(&shift(&gamma, hf), &beta), act, &w)
                            - objective(&d, &a64, &params(&shift(&gamma, -hf), &beta), act, &w))
                            / (2.0 * hf as f64);
                    let fd_beta =
                        (objective(&d, &a64, &params(&gamma, &shift(&beta, hf)), act, &w)
                            - objective(&d, &a64, &params(&gamma, &shift(&beta, -hf)), act, &w))
                            / (2.0 * hf as f64);
                    assert!(
                        (dgamma[c] as f64 - fd_gamma).abs() < 2e-3 * (1.0 + fd_gamma.abs()),
                        "{act:?} {training} dgamma"
                    );
                    assert!(
                        (dbeta[c] as f64 - fd_beta).abs() < 2e-3 * (1.0 + fd_beta.abs()),
                        "{act:?} {training} dbeta"
                    );
                }
            }
        }
    }
}
