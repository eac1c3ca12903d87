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
            let values = |t: &Tensor<1>| plain(t.clone()).map(|t| host(&t).into_owned());
            let (mean, var) = (values(&norm.running_mean)?, values(&norm.running_var)?);
            let (gamma, beta) = (values(&norm.gamma)?, values(&norm.beta)?);
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
    let values = |t: &AdTensor| host(t.primitive()).into_owned();
    let a = host(input.primitive());
    let (mean, var) = if norm.training {
        norm_act::batch_stats(&dims, &a)
    } else {
        let running = |t: &Tensor<1>| C::tracked::<1>(t.clone()).map(|t| values(&t));
        (running(&norm.running_mean)?, running(&norm.running_var)?)
    };
    let saved = NormSaved {
        dims,
        act,
        inv_std: norm_act::inv_std(&var, norm.epsilon),
        mean,
        gamma: values(&gamma),
        beta: values(&beta),
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
