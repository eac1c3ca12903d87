//! EfficientNet's squeeze-excitation on the host, forward and backward:
//! `y = h sigmoid(W_e silu(W_r mean_hw(h) + b_r) + b_e)`, per channel of each sample.
//!
//! The portable path is six Burn operations (two means, two 1x1 convolutions on `[B, C, 1,
//! 1]`, two activations) and a broadcast product, each a pass or a dispatch of its own, and
//! autodiff keeps their inputs. Here the plane is read once for the means and once for the
//! product; the small matrix-vector products run per sample; the backward pass reads `h`
//! and `dy` once. Weight gradients are summed over the batch in sample order, so they do not
//! depend on the thread count.

use diffres::kernel_support::{exp, vectorized};
use rayon::prelude::*;

use super::norm_act::{lane_sum, lane_sum2};

/// Sizes: `[batch, channels, plane]` in, `squeezed` channels between the two projections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExciteDims {
    pub batch: usize,
    pub channels: usize,
    pub plane: usize,
    pub squeezed: usize,
}

/// The two projections: `reduce` `[squeezed, channels]`, `expand` `[channels, squeezed]`
/// (row-major, the 1x1 convolutions' weights), with their biases.
pub(crate) struct ExciteParams<'a> {
    pub reduce: &'a [f32],
    pub reduce_bias: &'a [f32],
    pub expand: &'a [f32],
    pub expand_bias: &'a [f32],
}

impl<'a> ExciteParams<'a> {
    /// From `[reduce, reduce_bias, expand, expand_bias]`.
    pub(crate) fn of(weights: &'a [Vec<f32>; 4]) -> Self {
        Self {
            reduce: &weights[0],
            reduce_bias: &weights[1],
            expand: &weights[2],
            expand_bias: &weights[3],
        }
    }
}

/// What the backward pass needs besides `h`: per sample, the plane means `[B, C]`, the
/// reduced pre-activations `[B, S]` and the gates `[B, C]`.
#[derive(Clone, Debug)]
pub(crate) struct ExciteSaved {
    pub means: Vec<f32>,
    pub reduced: Vec<f32>,
    pub gates: Vec<f32>,
}

#[inline(always)]
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + exp(-z))
}

/// `y = h gate` and what the backward pass needs. Every size at least 1.
pub(crate) fn forward(d: &ExciteDims, h: &[f32], p: &ExciteParams<'_>) -> (Vec<f32>, ExciteSaved) {
    let (c, s, plane) = (d.channels, d.squeezed, d.plane);
    debug_assert!(d.batch * c * s * plane > 0);
    debug_assert_eq!(h.len(), d.batch * c * plane);
    let per_sample: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = h
        .par_chunks(c * plane)
        .map(|h| {
            vectorized(
                #[inline(always)]
                || {
                    let means: Vec<f32> = h
                        .chunks_exact(plane)
                        .map(|v| (lane_sum(v, |x| x) / plane as f64) as f32)
                        .collect();
                    let reduced: Vec<f32> = (0..s)
                        .map(|j| dot(&p.reduce[j * c..(j + 1) * c], &means) + p.reduce_bias[j])
                        .collect();
                    let activated: Vec<f32> = reduced.iter().map(|&z| z * sigmoid(z)).collect();
                    let gates: Vec<f32> = (0..c)
                        .map(|i| {
                            sigmoid(
                                dot(&p.expand[i * s..(i + 1) * s], &activated) + p.expand_bias[i],
                            )
                        })
                        .collect();
                    (means, reduced, gates)
                },
            )
        })
        .collect();
    let mut saved = ExciteSaved {
        means: Vec::with_capacity(d.batch * c),
        reduced: Vec::with_capacity(d.batch * s),
        gates: Vec::with_capacity(d.batch * c),
    };
    for (means, reduced, gates) in per_sample {
        saved.means.extend(means);
        saved.reduced.extend(reduced);
        saved.gates.extend(gates);
    }
    let mut y = vec![0.0f32; h.len()];
    y.par_chunks_mut(plane)
        .zip(h.par_chunks(plane))
        .zip(saved.gates.par_iter())
        .for_each(|((y, h), &g)| {
            vectorized(
                #[inline(always)]
                || {
                    for (y, &h) in y.iter_mut().zip(h) {
                        *y = h * g;
                    }
                },
            )
        });
    (y, saved)
}

/// `sum a_i b_i` over two slices of one length, in `f32` lanes added in `f64`.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    lane_sum2(a, b, |x, y| (x * y, 0.0)).0 as f32
}

/// The gradients of [`forward`].
pub(crate) struct ExciteGrads {
    /// `[B, C, plane]`, when asked for.
    pub input: Option<Vec<f32>>,
    pub reduce: Vec<f32>,
    pub reduce_bias: Vec<f32>,
    pub expand: Vec<f32>,
    pub expand_bias: Vec<f32>,
}

/// Gradients of [`forward`] given `dy`.
pub(crate) fn backward(
    d: &ExciteDims,
    h: &[f32],
    p: &ExciteParams<'_>,
    saved: &ExciteSaved,
    dy: &[f32],
    want_input: bool,
) -> ExciteGrads {
    let (c, s, plane) = (d.channels, d.squeezed, d.plane);
    // Per sample: d pre-gate [C], d reduced pre-activation [S], silu(reduced) [S] and the
    // gradient of the plane means [C].
    let per_sample: Vec<[Vec<f32>; 4]> = h
        .par_chunks(c * plane)
        .zip(dy.par_chunks(c * plane))
        .enumerate()
        .map(|(b, (h, dy))| {
            vectorized(
                #[inline(always)]
                || {
                    let gates = &saved.gates[b * c..(b + 1) * c];
                    let reduced = &saved.reduced[b * s..(b + 1) * s];
                    let d_gate: Vec<f32> = (0..c)
                        .map(|i| {
                            let range = i * plane..(i + 1) * plane;
                            let dg = lane_sum2(&h[range.clone()], &dy[range], |h, g| (h * g, 0.0)).0
                                as f32;
                            dg * gates[i] * (1.0 - gates[i])
                        })
                        .collect();
                    let mut d_act = vec![0.0f32; s];
                    for (i, &dz) in d_gate.iter().enumerate() {
                        for (acc, &w) in d_act.iter_mut().zip(&p.expand[i * s..(i + 1) * s]) {
                            *acc += w * dz;
                        }
                    }
                    let activated: Vec<f32> = reduced.iter().map(|&z| z * sigmoid(z)).collect();
                    let d_reduced: Vec<f32> = reduced
                        .iter()
                        .zip(&d_act)
                        .map(|(&z, &da)| {
                            let sg = sigmoid(z);
                            da * sg * (1.0 + z * (1.0 - sg))
                        })
                        .collect();
                    let mut d_means = vec![0.0f32; c];
                    for (j, &dz) in d_reduced.iter().enumerate() {
                        for (acc, &w) in d_means.iter_mut().zip(&p.reduce[j * c..(j + 1) * c]) {
                            *acc += w * dz;
                        }
                    }
                    [d_gate, d_reduced, activated, d_means]
                },
            )
        })
        .collect();
    let mut grads = ExciteGrads {
        input: None,
        reduce: vec![0.0; s * c],
        reduce_bias: vec![0.0; s],
        expand: vec![0.0; c * s],
        expand_bias: vec![0.0; c],
    };
    // Sample by sample, in order.
    for (b, [d_gate, d_reduced, activated, _]) in per_sample.iter().enumerate() {
        let means = &saved.means[b * c..(b + 1) * c];
        for (j, &dz) in d_reduced.iter().enumerate() {
            grads.reduce_bias[j] += dz;
            for (g, &m) in grads.reduce[j * c..(j + 1) * c].iter_mut().zip(means) {
                *g += dz * m;
            }
        }
        for (i, &dz) in d_gate.iter().enumerate() {
            grads.expand_bias[i] += dz;
            for (g, &a) in grads.expand[i * s..(i + 1) * s].iter_mut().zip(activated) {
                *g += dz * a;
            }
        }
    }
    grads.input = want_input.then(|| {
        let mut dh = vec![0.0f32; h.len()];
        dh.par_chunks_mut(plane)
            .zip(dy.par_chunks(plane))
            .enumerate()
            .for_each(|(index, (dh, dy))| {
                let (b, i) = (index / c, index % c);
                let gate = saved.gates[index];
                let spread = per_sample[b][3][i] / plane as f32;
                vectorized(
                    #[inline(always)]
                    || {
                        for (dh, &g) in dh.iter_mut().zip(dy) {
                            *dh = g * gate + spread;
                        }
                    },
                )
            });
        dh
    });
    grads
}

#[cfg(test)]
mod tests {
    use super::super::geometry::test_support::values;
    use super::*;

    /// `sum(w y)` in `f64`.
    fn objective(d: &ExciteDims, h: &[f64], p: [&[f64]; 4], w: &[f32]) -> f64 {
        let [wr, br, we, be] = p;
        let (c, s, plane) = (d.channels, d.squeezed, d.plane);
        let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
        let mut total = 0.0;
        for b in 0..d.batch {
            let base = b * c * plane;
            let means: Vec<f64> = (0..c)
                .map(|i| {
                    h[base + i * plane..base + (i + 1) * plane]
                        .iter()
                        .sum::<f64>()
                        / plane as f64
                })
                .collect();
            let act: Vec<f64> = (0..s)
                .map(|j| {
                    let z = br[j] + (0..c).map(|i| wr[j * c + i] * means[i]).sum::<f64>();
                    z * sig(z)
                })
                .collect();
            for i in 0..c {
                let gate = sig(be[i] + (0..s).map(|j| we[i * s + j] * act[j]).sum::<f64>());
                for k in 0..plane {
                    let at = base + i * plane + k;
                    total += w[at] as f64 * h[at] * gate;
                }
            }
        }
        total
    }

    #[test]
    fn squeeze_excitation_matches_a_reference_and_finite_differences() {
        let d = ExciteDims {
            batch: 2,
            channels: 5,
            plane: 6,
            squeezed: 3,
        };
        let n = d.batch * d.channels * d.plane;
        let scaled = |n: usize, seed: u32, k: f32| -> Vec<f32> {
            values(n, seed).into_iter().map(|v| k * v).collect()
        };
        let h = scaled(n, 1, 2.0);
        let w = scaled(n, 2, 1.0);
        let params: [Vec<f32>; 4] = [
            scaled(d.squeezed * d.channels, 3, 1.5),
            scaled(d.squeezed, 4, 0.5),
            scaled(d.channels * d.squeezed, 5, 1.5),
            scaled(d.channels, 6, 0.5),
        ];
        let view = |p: &[Vec<f32>; 4]| -> [Vec<f64>; 4] {
            p.clone().map(|v| v.iter().map(|&x| x as f64).collect())
        };
        let h64: Vec<f64> = h.iter().map(|&v| v as f64).collect();
        let eval =
            |h: &[f64], p: &[Vec<f64>; 4]| objective(&d, h, [&p[0], &p[1], &p[2], &p[3]], &w);
        let (y, saved) = forward(&d, &h, &ExciteParams::of(&params));
        let direct: f64 = y.iter().zip(&w).map(|(y, w)| *y as f64 * *w as f64).sum();
        let reference = eval(&h64, &view(&params));
        assert!((direct - reference).abs() < 1e-5 * (1.0 + reference.abs()));
        let grads = backward(&d, &h, &ExciteParams::of(&params), &saved, &w, true);
        let dh = grads.input.clone().unwrap();
        let step = 1e-4;
        let check = |got: f32, fd: f64, what: String| {
            assert!(
                (got as f64 - fd).abs() < 1e-3 * (1.0 + fd.abs()),
                "{what}: {got} vs {fd}"
            );
        };
        for i in 0..n {
            let (mut up, mut down) = (h64.clone(), h64.clone());
            up[i] += step;
            down[i] -= step;
            let p = view(&params);
            check(
                dh[i],
                (eval(&up, &p) - eval(&down, &p)) / (2.0 * step),
                format!("dh[{i}]"),
            );
        }
        let got = [
            grads.reduce.clone(),
            grads.reduce_bias.clone(),
            grads.expand.clone(),
            grads.expand_bias.clone(),
        ];
        let p64 = view(&params);
        for (which, grad) in got.iter().enumerate() {
            for i in 0..grad.len() {
                let (mut up, mut down) = (p64.clone(), p64.clone());
                up[which][i] += step;
                down[which][i] -= step;
                let fd = (eval(&h64, &up) - eval(&h64, &down)) / (2.0 * step);
                check(grad[i], fd, format!("param {which}[{i}]"));
            }
        }
        // Without the input's gradient the weights' are the same.
        let weights_only = backward(&d, &h, &ExciteParams::of(&params), &saved, &w, false);
        assert!(weights_only.input.is_none());
        assert_eq!(weights_only.reduce, grads.reduce);
    }
}
