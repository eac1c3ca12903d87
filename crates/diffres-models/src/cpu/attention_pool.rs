//! PSLA's multi-head attention pooling ([`crate::MHeadAttention`]) on the host, forward and
//! backward, and its flex operation.
//!
//! For a map `x` `[B, C, t, F]`: `h = mean_F x` as `[B t, C]` rows; for each head `i`,
//! `a = clamp(sigmoid(h A_i + a_i), eps, 1 - eps)`, `n = a / sum_t a`, `l = h L_i + l_i`
//! (or `sigmoid` of it for PSLA's probabilities) and `o_i = sum_t n l`; the output is
//! `sum_i w_i o_i`. The portable path is about ten Burn operations per head, each its own
//! pass with its own saved tensors; here the two projections of every head are one matrix
//! product each over the whole batch and the rest is two passes over `[B t, K]`.
//!
//! The products run on one thread each (the heads' products in parallel), and the bias and
//! head-weight gradients are summed in row order, so the results do not depend on the
//! thread count.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Flex;
use burn::prelude::*;
use diffres::kernel_support::{
    exp, flex_kind, flex_tensor, host, matmul, plain, plain_tensor, FlexKind, Strategy, View,
    ViewMut,
};
use rayon::prelude::*;

use super::ops::{plain_values, tracked_values};

/// Sizes: the map `[batch, channels, time, freq]`, `heads` heads, `classes` outputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AttentionDims {
    pub batch: usize,
    pub channels: usize,
    pub time: usize,
    pub freq: usize,
    pub heads: usize,
    pub classes: usize,
    /// A sigmoid on the classification branch (PSLA's head).
    pub probabilities: bool,
    /// The attention's clamp, `[eps, 1 - eps]` (`f32`, as the portable path compares).
    pub clamp: [f32; 2],
}

impl AttentionDims {
    fn rows(&self) -> usize {
        self.batch * self.time
    }

    /// `[B t, K]` per head.
    fn head_block(&self) -> usize {
        self.rows() * self.classes
    }
}

/// The parameters, stacked over heads: `att` and `cla` `[H, C, K]` (the [`burn::nn::Linear`]
/// weights), their biases `[H, K]`, the head weights `[H]`.
pub(crate) struct AttentionParams<'a> {
    pub att: &'a [f32],
    pub att_bias: &'a [f32],
    pub cla: &'a [f32],
    pub cla_bias: &'a [f32],
    pub head_weight: &'a [f32],
}

impl<'a> AttentionParams<'a> {
    /// From `[att, att_bias, cla, cla_bias, head_weight]`.
    pub(crate) fn of(p: &'a [Vec<f32>; 5]) -> Self {
        Self {
            att: &p[0],
            att_bias: &p[1],
            cla: &p[2],
            cla_bias: &p[3],
            head_weight: &p[4],
        }
    }
}

/// What the backward pass needs, per head `[H, B t, K]` unless said.
#[derive(Clone, Debug, Default)]
pub(crate) struct AttentionSaved {
    /// The frequency means, `[B t, C]`.
    means: Vec<f32>,
    /// The clamped attention.
    att: Vec<f32>,
    /// `d att / d pre-activation`: `s (1 - s)`, zero where the clamp holds.
    att_slope: Vec<f32>,
    /// The classification branch (logits or probabilities).
    cla: Vec<f32>,
    /// `sum_t att`, `[H, B, K]`.
    att_sums: Vec<f32>,
    /// Each head's output `o_i`, `[H, B, K]`.
    head_out: Vec<f32>,
}

#[inline(always)]
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + exp(-z))
}

/// `z [rows, K] = h [rows, C] . w [C, K] + bias` on one thread.
fn project(d: &AttentionDims, h: &[f32], w: &[f32], bias: &[f32], z: &mut [f32]) {
    let (rows, c, k) = (d.rows(), d.channels, d.classes);
    for row in z.chunks_exact_mut(k) {
        row.copy_from_slice(bias);
    }
    matmul(
        (rows, k, c),
        ViewMut::new(z, 0, k, 1),
        View::new(h, 0, c, 1),
        View::new(w, 0, k, 1),
        true,
        1,
    );
}

/// The pooled output `[B, K]` and what the backward pass needs.
pub(crate) fn forward(
    d: &AttentionDims,
    x: &[f32],
    p: &AttentionParams<'_>,
) -> (Vec<f32>, AttentionSaved) {
    let (b_n, c, t, f, k) = (d.batch, d.channels, d.time, d.freq, d.classes);
    debug_assert_eq!(x.len(), b_n * c * t * f);
    let mut means = vec![0.0f32; d.rows() * c];
    means
        .par_chunks_mut(t * c)
        .zip(x.par_chunks(c * t * f))
        .for_each(|(means, x)| {
            for (ci, plane) in x.chunks_exact(t * f).enumerate() {
                for (ti, bins) in plane.chunks_exact(f).enumerate() {
                    means[ti * c + ci] = bins.iter().sum::<f32>() / f as f32;
                }
            }
        });
    let block = d.head_block();
    let heads: Vec<[Vec<f32>; 5]> = (0..d.heads)
        .into_par_iter()
        .map(|i| {
            let (weights, biases) = (i * c * k..(i + 1) * c * k, i * k..(i + 1) * k);
            let mut att = vec![0.0f32; block];
            project(
                d,
                &means,
                &p.att[weights.clone()],
                &p.att_bias[biases.clone()],
                &mut att,
            );
            let mut cla = vec![0.0f32; block];
            project(d, &means, &p.cla[weights], &p.cla_bias[biases], &mut cla);
            let [lo, hi] = d.clamp;
            let mut slope = vec![0.0f32; block];
            for (a, s) in att.iter_mut().zip(&mut slope) {
                let value = sigmoid(*a);
                *s = if (lo..=hi).contains(&value) {
                    value * (1.0 - value)
                } else {
                    0.0
                };
                *a = value.clamp(lo, hi);
            }
            if d.probabilities {
                for l in &mut cla {
                    *l = sigmoid(*l);
                }
            }
            let (mut sums, mut out) = (vec![0.0f32; b_n * k], vec![0.0f32; b_n * k]);
            for b in 0..b_n {
                let rows = b * t * k..(b + 1) * t * k;
                let (sum, o) = (&mut sums[b * k..(b + 1) * k], &mut out[b * k..(b + 1) * k]);
                for (a, l) in att[rows.clone()]
                    .chunks_exact(k)
                    .zip(cla[rows].chunks_exact(k))
                {
                    for kk in 0..k {
                        sum[kk] += a[kk];
                        o[kk] += a[kk] * l[kk];
                    }
                }
                for (o, s) in o.iter_mut().zip(sum.iter()) {
                    *o /= s;
                }
            }
            [att, slope, cla, sums, out]
        })
        .collect();
    let mut saved = AttentionSaved {
        means,
        ..Default::default()
    };
    let mut y = vec![0.0f32; b_n * k];
    for (i, [att, slope, cla, sums, out]) in heads.into_iter().enumerate() {
        for (y, o) in y.iter_mut().zip(&out) {
            *y += p.head_weight[i] * o;
        }
        saved.att.extend(att);
        saved.att_slope.extend(slope);
        saved.cla.extend(cla);
        saved.att_sums.extend(sums);
        saved.head_out.extend(out);
    }
    (y, saved)
}

/// The gradients of [`forward`], in [`AttentionParams`]' layouts.
pub(crate) struct AttentionGrads {
    /// `[B, C, t, F]`, when asked for.
    pub input: Option<Vec<f32>>,
    /// `[att, att_bias, cla, cla_bias, head_weight]`.
    pub params: [Vec<f32>; 5],
}

/// Gradients of [`forward`] given `dy` `[B, K]`.
pub(crate) fn backward(
    d: &AttentionDims,
    p: &AttentionParams<'_>,
    s: &AttentionSaved,
    dy: &[f32],
    want_input: bool,
) -> AttentionGrads {
    let (b_n, c, t, f, k) = (d.batch, d.channels, d.time, d.freq, d.classes);
    let (block, rows) = (d.head_block(), d.rows());
    // Per head: the pre-activation gradients of both branches, the projections' weight and
    // bias gradients and the head weight's.
    let per_head: Vec<[Vec<f32>; 7]> = (0..d.heads)
        .into_par_iter()
        .map(|i| {
            let head = i * block..(i + 1) * block;
            let (att, slope, cla) = (
                &s.att[head.clone()],
                &s.att_slope[head.clone()],
                &s.cla[head],
            );
            let sums = &s.att_sums[i * b_n * k..(i + 1) * b_n * k];
            let out = &s.head_out[i * b_n * k..(i + 1) * b_n * k];
            let mut d_head_weight = 0.0f32;
            let (mut d_att, mut d_cla) = (vec![0.0f32; block], vec![0.0f32; block]);
            for b in 0..b_n {
                let (g, sum, o) = (
                    &dy[b * k..(b + 1) * k],
                    &sums[b * k..(b + 1) * k],
                    &out[b * k..(b + 1) * k],
                );
                for kk in 0..k {
                    d_head_weight += g[kk] * o[kk];
                }
                for ti in 0..t {
                    let r = (b * t + ti) * k;
                    for kk in 0..k {
                        let d_out = g[kk] * p.head_weight[i];
                        let (a, l) = (att[r + kk], cla[r + kk]);
                        // n = a / sum: d a = (d n - sum_t d n n) / sum, d n = d_out l.
                        d_att[r + kk] = d_out * (l - o[kk]) / sum[kk] * slope[r + kk];
                        let dl = d_out * a / sum[kk];
                        d_cla[r + kk] = if d.probabilities {
                            dl * l * (1.0 - l)
                        } else {
                            dl
                        };
                    }
                }
            }
            let weight_grad = |dz: &[f32]| {
                let mut dw = vec![0.0f32; c * k];
                matmul(
                    (c, k, rows),
                    ViewMut::new(&mut dw, 0, k, 1),
                    View::new(&s.means, 0, 1, c),
                    View::new(dz, 0, k, 1),
                    false,
                    1,
                );
                let mut db = vec![0.0f32; k];
                for row in dz.chunks_exact(k) {
                    for (db, &g) in db.iter_mut().zip(row) {
                        *db += g;
                    }
                }
                (dw, db)
            };
            let (dw_att, db_att) = weight_grad(&d_att);
            let (dw_cla, db_cla) = weight_grad(&d_cla);
            [
                d_att,
                d_cla,
                dw_att,
                db_att,
                dw_cla,
                db_cla,
                vec![d_head_weight],
            ]
        })
        .collect();
    let mut params: [Vec<f32>; 5] = Default::default();
    for [_, _, dw_att, db_att, dw_cla, db_cla, dhw] in &per_head {
        params[0].extend(dw_att);
        params[1].extend(db_att);
        params[2].extend(dw_cla);
        params[3].extend(db_cla);
        params[4].extend(dhw);
    }
    let input = want_input.then(|| {
        // d means [B t, C] = sum over heads and branches of dz . W^T, in head order.
        let mut d_means = vec![0.0f32; rows * c];
        for (i, [d_att, d_cla, ..]) in per_head.iter().enumerate() {
            for (dz, w) in [(d_att, p.att), (d_cla, p.cla)] {
                matmul(
                    (rows, c, k),
                    ViewMut::new(&mut d_means, 0, c, 1),
                    View::new(dz, 0, k, 1),
                    View::new(w, i * c * k, 1, k),
                    true,
                    1,
                );
            }
        }
        let mut dx = vec![0.0f32; b_n * c * t * f];
        dx.par_chunks_mut(c * t * f)
            .zip(d_means.par_chunks(t * c))
            .for_each(|(dx, dm)| {
                for (ci, plane) in dx.chunks_exact_mut(t * f).enumerate() {
                    for (ti, bins) in plane.chunks_exact_mut(f).enumerate() {
                        bins.fill(dm[ti * c + ci] / f as f32);
                    }
                }
            });
        dx
    });
    AttentionGrads { input, params }
}

/// The pooling's parameters as tensors, stacked over heads as [`AttentionParams`] lays them.
pub(crate) struct AttentionTensors {
    /// `[H, C, K]`.
    pub att: Tensor<3>,
    /// `[H, K]`.
    pub att_bias: Tensor<2>,
    /// `[H, C, K]`.
    pub cla: Tensor<3>,
    /// `[H, K]`.
    pub cla_bias: Tensor<2>,
    /// `[H]`.
    pub head_weight: Tensor<1>,
}

/// The pooling on flex: `x` `[B, C, t, F]` -> `[B, K]`.
pub(crate) fn attention_pool(
    x: &Tensor<4>,
    p: &AttentionTensors,
    dims: AttentionDims,
) -> Option<Tensor<2>> {
    let out_shape = [dims.batch, dims.classes];
    match flex_kind(x)? {
        FlexKind::Plain => {
            let weights = [
                plain_values(&p.att)?,
                plain_values(&p.att_bias)?,
                plain_values(&p.cla)?,
                plain_values(&p.cla_bias)?,
                plain_values(&p.head_weight)?,
            ];
            let input = plain(x.clone())?;
            let (y, _) = forward(&dims, &host(&input), &AttentionParams::of(&weights));
            Some(plain_tensor(y, out_shape))
        }
        FlexKind::Autodiff => tracked::<NoCheckpointing>(x, p, dims),
        FlexKind::AutodiffBalanced => tracked::<BalancedCheckpointing>(x, p, dims),
    }
}

fn tracked<C: Strategy>(
    x: &Tensor<4>,
    p: &AttentionTensors,
    dims: AttentionDims,
) -> Option<Tensor<2>> {
    let input = C::tracked::<4>(x.clone())?;
    let att = C::tracked::<3>(p.att.clone())?;
    let att_bias = C::tracked::<2>(p.att_bias.clone())?;
    let cla = C::tracked::<3>(p.cla.clone())?;
    let cla_bias = C::tracked::<2>(p.cla_bias.clone())?;
    let head_weight = C::tracked::<1>(p.head_weight.clone())?;
    let weights = [&att, &att_bias, &cla, &cla_bias, &head_weight].map(tracked_values);
    let (y, saved) = forward(
        &dims,
        &host(input.primitive()),
        &AttentionParams::of(&weights),
    );
    let out = flex_tensor(y, &[dims.batch, dims.classes]);
    let nodes = [
        input.node(),
        att.node(),
        att_bias.node(),
        cla.node(),
        cla_bias.node(),
        head_weight.node(),
    ];
    let output = match PoolBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(
            PoolState(Arc::new(PoolSaved {
                dims,
                weights,
                saved,
            })),
            out,
        ),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(C::wrap::<2>(output))
}

#[derive(Debug)]
struct PoolBackward;

#[derive(Clone, Debug)]
struct PoolState(Arc<PoolSaved>);

#[derive(Debug)]
struct PoolSaved {
    dims: AttentionDims,
    /// The parameters, in [`AttentionParams::of`]'s order.
    weights: [Vec<f32>; 5],
    saved: AttentionSaved,
}

impl Backward<Flex, 6> for PoolBackward {
    type State = PoolState;

    fn backward(
        self,
        ops: Ops<Self::State, 6>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let all = &ops.state.0;
        let grad = grads.consume::<Flex>(&ops.node);
        let d = &all.dims;
        let g = backward(
            d,
            &AttentionParams::of(&all.weights),
            &all.saved,
            &host(&grad),
            ops.parents[0].is_some(),
        );
        let [input, rest @ ..] = &ops.parents;
        if let (Some(node), Some(dx)) = (input, g.input) {
            let shape = [d.batch, d.channels, d.time, d.freq];
            grads.register::<Flex>(node.id, flex_tensor(dx, &shape));
        }
        let (h, c, k) = (d.heads, d.channels, d.classes);
        let shapes = [
            vec![h, c, k],
            vec![h, k],
            vec![h, c, k],
            vec![h, k],
            vec![h],
        ];
        for ((node, values), shape) in rest.iter().zip(g.params).zip(shapes) {
            if let Some(node) = node {
                grads.register::<Flex>(node.id, flex_tensor(values, &shape));
            }
        }
    }
}
