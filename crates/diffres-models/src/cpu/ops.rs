//! The classifier kernels as flex operations: the forward pass on the host, the backward
//! pass registered in Burn's autodiff graph as one node per operation.
//!
//! Each function returns `None` when the portable path must be taken: another backend or
//! non-`f32` data.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::prelude::*;
use diffres::kernel_support::{
    flex_kind, flex_tensor, host, plain, plain_tensor, AdTensor, FlexKind, NormParams, Strategy,
};

use super::geometry::ConvDims;
use super::norm_act::{self, Activation, Norm, NormDims};
use super::pool::{self, PoolDims};
use super::squeeze_excite::{self as excite, ExciteDims, ExciteParams, ExciteSaved};
use super::{conv2d as dense, depthwise};

/// Which convolution kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConvKind {
    /// One group.
    Dense,
    /// One filter per channel (`groups == c_in == c_out`).
    Depthwise,
}

impl ConvKind {
    fn forward(self, d: &ConvDims, x: &[f32], w: &[f32]) -> Vec<f32> {
        match self {
            ConvKind::Dense => dense::forward(d, x, w),
            ConvKind::Depthwise => depthwise::forward(d, x, w),
        }
    }

    fn backward(
        self,
        d: &ConvDims,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        want_input: bool,
    ) -> (Option<Vec<f32>>, Vec<f32>) {
        match self {
            ConvKind::Dense => dense::backward(d, x, w, dy, want_input),
            ConvKind::Depthwise => depthwise::backward(d, x, w, dy, want_input),
        }
    }
}

/// A plain flex tensor's values, owned (`None` off flex or for non-`f32` data).
pub(crate) fn plain_values<const D: usize>(t: &Tensor<D>) -> Option<Vec<f32>> {
    plain(t.clone()).map(|t| host(&t).into_owned())
}

/// A tracked flex tensor's values, owned.
pub(crate) fn tracked_values(t: &AdTensor) -> Vec<f32> {
    host(t.primitive()).into_owned()
}

fn out_shape(d: &ConvDims) -> [usize; 4] {
    [d.batch, d.c_out, d.h_out(), d.w_out()]
}

/// A convolution without bias on flex: `x` `[B, c_in, h, w]`, `weight` `[c_out, c_in /
/// groups, kh, kw]` as `dims` describes them.
pub(crate) fn conv2d(
    x: &Tensor<4>,
    weight: &Tensor<4>,
    dims: ConvDims,
    kind: ConvKind,
) -> Option<Tensor<4>> {
    match flex_kind(x)? {
        FlexKind::Plain => {
            let (x, w) = (plain(x.clone())?, plain(weight.clone())?);
            let y = kind.forward(&dims, &host(&x), &host(&w));
            Some(plain_tensor(y, out_shape(&dims)))
        }
        FlexKind::Autodiff => conv2d_tracked::<NoCheckpointing>(x, weight, dims, kind),
        FlexKind::AutodiffBalanced => {
            conv2d_tracked::<BalancedCheckpointing>(x, weight, dims, kind)
        }
    }
}

fn conv2d_tracked<C: Strategy>(
    x: &Tensor<4>,
    weight: &Tensor<4>,
    dims: ConvDims,
    kind: ConvKind,
) -> Option<Tensor<4>> {
    let input = C::tracked::<4>(x.clone())?;
    let weight = C::tracked::<4>(weight.clone())?;
    let y = kind.forward(&dims, &host(input.primitive()), &host(weight.primitive()));
    let out = flex_tensor(y, &out_shape(&dims));
    let nodes = [input.node(), weight.node()];
    let output = match ConvBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(
            ConvState(Arc::new(ConvSaved {
                dims,
                kind,
                input: input.primitive().clone(),
                weight: weight.primitive().clone(),
            })),
            out,
        ),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(C::wrap::<4>(output))
}

#[derive(Debug)]
struct ConvBackward;

#[derive(Clone, Debug)]
struct ConvState(Arc<ConvSaved>);

struct ConvSaved {
    dims: ConvDims,
    kind: ConvKind,
    /// Reference-counted views of the operands, not copies.
    input: FlexTensor,
    weight: FlexTensor,
}

impl std::fmt::Debug for ConvSaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConvSaved")
            .field("dims", &self.dims)
            .field("kind", &self.kind)
            .finish()
    }
}

impl Backward<Flex, 2> for ConvBackward {
    type State = ConvState;

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let saved = &ops.state.0;
        let grad = grads.consume::<Flex>(&ops.node);
        let d = &saved.dims;
        let (dx, dw) = saved.kind.backward(
            d,
            &host(&saved.input),
            &host(&saved.weight),
            &host(&grad),
            ops.parents[0].is_some(),
        );
        let [input, weight] = &ops.parents;
        if let (Some(node), Some(dx)) = (input, dx) {
            grads.register::<Flex>(node.id, flex_tensor(dx, &[d.batch, d.c_in, d.h, d.w]));
        }
        if let Some(node) = weight {
            let per_group = match saved.kind {
                ConvKind::Dense => d.c_in,
                ConvKind::Depthwise => 1,
            };
            grads.register::<Flex>(node.id, flex_tensor(dw, &[d.c_out, per_group, d.kh, d.kw]));
        }
    }
}

/// Average pooling without padding on flex: `x` `[B, C, h, w]` as `dims` describes it.
pub(crate) fn avg_pool2d(x: &Tensor<4>, dims: PoolDims) -> Option<Tensor<4>> {
    match flex_kind(x)? {
        FlexKind::Plain => {
            let x = plain(x.clone())?;
            Some(plain_tensor(
                pool::forward(&dims, &host(&x)),
                dims.out_shape(),
            ))
        }
        FlexKind::Autodiff => avg_pool2d_tracked::<NoCheckpointing>(x, dims),
        FlexKind::AutodiffBalanced => avg_pool2d_tracked::<BalancedCheckpointing>(x, dims),
    }
}

fn avg_pool2d_tracked<C: Strategy>(x: &Tensor<4>, dims: PoolDims) -> Option<Tensor<4>> {
    let input = C::tracked::<4>(x.clone())?;
    let out = flex_tensor(
        pool::forward(&dims, &host(input.primitive())),
        &dims.out_shape(),
    );
    // The backward pass needs only the sizes: nothing of the input is kept.
    let output = match PoolBackward
        .prepare::<C>([input.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(dims, out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(C::wrap::<4>(output))
}

#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    type State = PoolDims;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let d = ops.state;
        let grad = grads.consume::<Flex>(&ops.node);
        if let [Some(node)] = &ops.parents {
            let dx = pool::backward(&d, &host(&grad));
            grads.register::<Flex>(node.id, flex_tensor(dx, &[d.batch, d.channels, d.h, d.w]));
        }
    }
}

/// The squeeze-excitation's parameters: `[S, C, 1, 1]`, `[S]`, `[C, S, 1, 1]`, `[C]`.
pub(crate) struct ExciteTensors {
    pub reduce: Tensor<4>,
    pub reduce_bias: Tensor<1>,
    pub expand: Tensor<4>,
    pub expand_bias: Tensor<1>,
}

/// Squeeze-excitation on flex: `h` `[B, C, H, W]`.
pub(crate) fn squeeze_excite(
    h: &Tensor<4>,
    p: &ExciteTensors,
    dims: ExciteDims,
) -> Option<Tensor<4>> {
    match flex_kind(h)? {
        FlexKind::Plain => {
            let weights = [
                plain_values(&p.reduce)?,
                plain_values(&p.reduce_bias)?,
                plain_values(&p.expand)?,
                plain_values(&p.expand_bias)?,
            ];
            let x = plain(h.clone())?;
            let (y, _) = excite::forward(&dims, &host(&x), &ExciteParams::of(&weights));
            Some(plain_tensor(y, h.dims()))
        }
        FlexKind::Autodiff => squeeze_excite_tracked::<NoCheckpointing>(h, p, dims),
        FlexKind::AutodiffBalanced => squeeze_excite_tracked::<BalancedCheckpointing>(h, p, dims),
    }
}

fn squeeze_excite_tracked<C: Strategy>(
    h: &Tensor<4>,
    p: &ExciteTensors,
    dims: ExciteDims,
) -> Option<Tensor<4>> {
    let input = C::tracked::<4>(h.clone())?;
    let reduce = C::tracked::<4>(p.reduce.clone())?;
    let reduce_bias = C::tracked::<1>(p.reduce_bias.clone())?;
    let expand = C::tracked::<4>(p.expand.clone())?;
    let expand_bias = C::tracked::<1>(p.expand_bias.clone())?;
    let weights = [&reduce, &reduce_bias, &expand, &expand_bias].map(tracked_values);
    let (y, saved) = excite::forward(&dims, &host(input.primitive()), &ExciteParams::of(&weights));
    let out = flex_tensor(y, &h.dims());
    let nodes = [
        input.node(),
        reduce.node(),
        reduce_bias.node(),
        expand.node(),
        expand_bias.node(),
    ];
    let output = match ExciteBackward
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            ExciteState(Arc::new(ExciteSavedAll {
                dims,
                weights,
                saved,
                input: input.primitive().clone(),
            })),
            out,
        ),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(C::wrap::<4>(output))
}

#[derive(Debug)]
struct ExciteBackward;

#[derive(Clone, Debug)]
struct ExciteState(Arc<ExciteSavedAll>);

struct ExciteSavedAll {
    dims: ExciteDims,
    /// The projections' weights and biases, in [`ExciteTensors`]' order.
    weights: [Vec<f32>; 4],
    saved: ExciteSaved,
    /// The excitation's input (a reference-counted view).
    input: FlexTensor,
}

impl std::fmt::Debug for ExciteSavedAll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExciteSavedAll")
            .field("dims", &self.dims)
            .finish()
    }
}

impl Backward<Flex, 5> for ExciteBackward {
    type State = ExciteState;

    fn backward(
        self,
        ops: Ops<Self::State, 5>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let all = &ops.state.0;
        let grad = grads.consume::<Flex>(&ops.node);
        let d = &all.dims;
        let g = excite::backward(
            d,
            &host(&all.input),
            &ExciteParams::of(&all.weights),
            &all.saved,
            &host(&grad),
            ops.parents[0].is_some(),
        );
        let [input, reduce, reduce_bias, expand, expand_bias] = &ops.parents;
        if let (Some(node), Some(dh)) = (input, g.input) {
            let shape = all.input.layout().shape().to_vec();
            grads.register::<Flex>(node.id, flex_tensor(dh, &shape));
        }
        let (c, s) = (d.channels, d.squeezed);
        for (node, values, shape) in [
            (reduce, g.reduce, vec![s, c, 1, 1]),
            (reduce_bias, g.reduce_bias, vec![s]),
            (expand, g.expand, vec![c, s, 1, 1]),
            (expand_bias, g.expand_bias, vec![c]),
        ] {
            if let Some(node) = node {
                grads.register::<Flex>(node.id, flex_tensor(values, &shape));
            }
        }
    }
}

/// [`norm_act`]'s result.
pub(crate) struct NormOutput {
    /// `[B, C, H, W]`.
    pub out: Tensor<4>,
    /// In training, the batch's mean and biased variance, for the caller to blend into its
    /// running statistics.
    pub batch_stats: Option<(Vec<f32>, Vec<f32>)>,
}

/// `act(batch_norm(x))` on flex.
pub(crate) fn norm_act(x: &Tensor<4>, norm: &NormParams, act: Activation) -> Option<NormOutput> {
    match flex_kind(x)? {
        FlexKind::Plain => {
            let [b, c, h, w] = x.dims();
            let dims = NormDims {
                batch: b,
                channels: c,
                plane: h * w,
            };
            let (mean, var) = (
                plain_values(&norm.running_mean)?,
                plain_values(&norm.running_var)?,
            );
            let (gamma, beta) = (plain_values(&norm.gamma)?, plain_values(&norm.beta)?);
            let inv_std = norm_act::inv_std(&var, norm.epsilon);
            let input = plain(x.clone())?;
            let stats = Norm {
                mean: &mean,
                inv_std: &inv_std,
                gamma: &gamma,
                beta: &beta,
            };
            let y = norm_act::forward(&dims, &host(&input), &stats, act);
            Some(NormOutput {
                out: plain_tensor(y, [b, c, h, w]),
                batch_stats: None,
            })
        }
        FlexKind::Autodiff => norm_act_tracked::<NoCheckpointing>(x, norm, act),
        FlexKind::AutodiffBalanced => norm_act_tracked::<BalancedCheckpointing>(x, norm, act),
    }
}

fn norm_act_tracked<C: Strategy>(
    x: &Tensor<4>,
    norm: &NormParams,
    act: Activation,
) -> Option<NormOutput> {
    let [b, c, h, w] = x.dims();
    let dims = NormDims {
        batch: b,
        channels: c,
        plane: h * w,
    };
    let input = C::tracked::<4>(x.clone())?;
    let gamma = C::tracked::<1>(norm.gamma.clone())?;
    let beta = C::tracked::<1>(norm.beta.clone())?;
    let a = host(input.primitive());
    let (mean, var) = if norm.training {
        norm_act::batch_stats(&dims, &a)
    } else {
        let running = |t: &Tensor<1>| C::tracked::<1>(t.clone()).map(|t| tracked_values(&t));
        (running(&norm.running_mean)?, running(&norm.running_var)?)
    };
    let saved = NormSaved {
        dims,
        act,
        inv_std: norm_act::inv_std(&var, norm.epsilon),
        mean,
        gamma: tracked_values(&gamma),
        beta: tracked_values(&beta),
        training: norm.training,
        input: input.primitive().clone(),
    };
    let y = norm_act::forward(&dims, &a, &saved.norm(), act);
    drop(a);
    let out = flex_tensor(y, &[b, c, h, w]);
    let batch_stats = norm.training.then(|| (saved.mean.clone(), var));
    let nodes = [input.node(), gamma.node(), beta.node()];
    let output = match NormBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(NormState(Arc::new(saved)), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(NormOutput {
        out: C::wrap::<4>(output),
        batch_stats,
    })
}

#[derive(Debug)]
struct NormBackward;

#[derive(Clone, Debug)]
struct NormState(Arc<NormSaved>);

struct NormSaved {
    dims: NormDims,
    act: Activation,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    training: bool,
    /// The norm's input (a reference-counted view).
    input: FlexTensor,
}

impl NormSaved {
    fn norm(&self) -> Norm<'_> {
        Norm {
            mean: &self.mean,
            inv_std: &self.inv_std,
            gamma: &self.gamma,
            beta: &self.beta,
        }
    }
}

impl std::fmt::Debug for NormSaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NormSaved")
            .field("dims", &self.dims)
            .field("act", &self.act)
            .finish()
    }
}

impl Backward<Flex, 3> for NormBackward {
    type State = NormState;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let saved = &ops.state.0;
        let grad = grads.consume::<Flex>(&ops.node);
        let d = &saved.dims;
        let (da, dgamma, dbeta) = norm_act::backward(
            d,
            &host(&saved.input),
            &saved.norm(),
            saved.act,
            &host(&grad),
            saved.training,
            ops.parents[0].is_some(),
        );
        let [input, gamma, beta] = &ops.parents;
        if let (Some(node), Some(da)) = (input, da) {
            let shape = saved.input.layout().shape().to_vec();
            grads.register::<Flex>(node.id, flex_tensor(da, &shape));
        }
        for (node, values) in [(gamma, dgamma), (beta, dbeta)] {
            if let Some(node) = node {
                grads.register::<Flex>(node.id, flex_tensor(values, &[d.channels]));
            }
        }
    }
}
