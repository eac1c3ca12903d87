//! [`ResConv1d`] as a flex operation: the forward pass on the host, the backward pass
//! registered in Burn's autodiff graph as one node with nine parents (the input and the eight
//! parameters).

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::nn::conv::Conv1d;
use burn::nn::{BatchNorm, PaddingConfig1d};
use burn::prelude::*;

use super::conv_block::{self, Affine, BlockDims, Saved, Weights};
use super::flex::{flex_kind, flex_tensor, host, plain, strided3, AdTensor, FlexKind, Strategy};
use crate::importance::ResConv1d;

/// The block on flex, or `None` when the portable path must be taken (another backend,
/// non-`f32` data, a frozen batch norm under autodiff, a convolution this kernel does not
/// cover).
pub(crate) fn forward(
    block: &ResConv1d,
    x: &Tensor<3>,
    mask: Option<&Tensor<3>>,
) -> Option<Tensor<3>> {
    let kind = flex_kind(x)?;
    let dims = dims(block, x)?;
    let mask = mask.map(crate::host::read_f32);
    match kind {
        FlexKind::Plain => forward_plain(block, x, mask, dims),
        FlexKind::Autodiff => forward_tracked::<NoCheckpointing>(block, x, mask, dims),
        FlexKind::AutodiffBalanced => {
            forward_tracked::<BalancedCheckpointing>(block, x, mask, dims)
        }
    }
}

/// The block's sizes, if both convolutions are stride-1, ungrouped, biased and padded
/// symmetrically to keep the length.
fn dims(block: &ResConv1d, x: &Tensor<3>) -> Option<BlockDims> {
    let [batch, channels_in, frames] = x.dims();
    let [channels_out, cin, kernel] = block.conv1.weight.dims();
    let fits = |conv: &Conv1d, cin: usize| {
        let [o, i, k] = conv.weight.dims();
        let pad = conv.dilation * (k - 1) / 2;
        (o, i, k) == (channels_out, cin, kernel)
            && conv.dilation == block.conv1.dilation
            && conv.stride == 1
            && conv.groups == 1
            && conv.bias.is_some()
            && k % 2 == 1
            && matches!(conv.padding, PaddingConfig1d::Explicit(l, r) if l == pad && r == pad)
    };
    (cin == channels_in && fits(&block.conv1, channels_in) && fits(&block.conv2, channels_out))
        .then_some(BlockDims {
            batch,
            channels_in,
            channels_out,
            frames,
            kernel,
            dilation: block.conv1.dilation,
        })
}

fn forward_plain(
    block: &ResConv1d,
    x: &Tensor<3>,
    mask: Option<Vec<f32>>,
    dims: BlockDims,
) -> Option<Tensor<3>> {
    let values = |t: Tensor<1>| plain(t).map(|t| host(&t).into_owned());
    let weights = Weights {
        conv1: plain(block.conv1.weight.val()).map(|t| host(&t).into_owned())?,
        bias1: values(block.conv1.bias.as_ref()?.val())?,
        gamma1: values(block.norm1.gamma.val())?,
        beta1: values(block.norm1.beta.val())?,
        conv2: plain(block.conv2.weight.val()).map(|t| host(&t).into_owned())?,
        bias2: values(block.conv2.bias.as_ref()?.val())?,
        gamma2: values(block.norm2.gamma.val())?,
        beta2: values(block.norm2.beta.val())?,
    };
    let running = |norm: &BatchNorm| {
        let mean = values(norm.running_mean.value())?;
        let var = values(norm.running_var.value())?;
        Some(Affine::running(&mean, &var, norm.epsilon))
    };
    let norms = [running(&block.norm1)?, running(&block.norm2)?];
    let input = plain(x.clone())?;
    let out = conv_block::forward_inference(
        &dims,
        &weights,
        [&norms[0], &norms[1]],
        strided3(&input)?,
        mask.as_deref(),
    );
    Some(super::flex::plain_tensor(
        out,
        [dims.batch, dims.channels_out, dims.frames],
    ))
}

fn forward_tracked<C: Strategy>(
    block: &ResConv1d,
    x: &Tensor<3>,
    mask: Option<Vec<f32>>,
    dims: BlockDims,
) -> Option<Tensor<3>> {
    if !(block.norm1.training.is_enabled() && block.norm2.training.is_enabled()) {
        return None;
    }
    let input = C::tracked::<3>(x.clone())?;
    let conv1 = C::tracked::<3>(block.conv1.weight.val())?;
    let bias1 = C::tracked::<1>(block.conv1.bias.as_ref()?.val())?;
    let gamma1 = C::tracked::<1>(block.norm1.gamma.val())?;
    let beta1 = C::tracked::<1>(block.norm1.beta.val())?;
    let conv2 = C::tracked::<3>(block.conv2.weight.val())?;
    let bias2 = C::tracked::<1>(block.conv2.bias.as_ref()?.val())?;
    let gamma2 = C::tracked::<1>(block.norm2.gamma.val())?;
    let beta2 = C::tracked::<1>(block.norm2.beta.val())?;
    strided3(input.primitive())?;

    let values = |t: &AdTensor| host(t.primitive()).into_owned();
    let weights = Weights {
        conv1: values(&conv1),
        bias1: values(&bias1),
        gamma1: values(&gamma1),
        beta1: values(&beta1),
        conv2: values(&conv2),
        bias2: values(&bias2),
        gamma2: values(&gamma2),
        beta2: values(&beta2),
    };
    let input_flex = input.primitive().clone();
    let trained = conv_block::forward_train(
        &dims,
        &weights,
        [block.norm1.epsilon, block.norm2.epsilon],
        strided3(&input_flex)?,
        mask.as_deref(),
    );
    let [(mean1, var1), (mean2, var2)] = &trained.batch_stats;
    update_running(&block.norm1, mean1, var1);
    update_running(&block.norm2, mean2, var2);

    let nodes = [
        input.node(),
        conv1.node(),
        bias1.node(),
        gamma1.node(),
        beta1.node(),
        conv2.node(),
        bias2.node(),
        gamma2.node(),
        beta2.node(),
    ];
    let out = flex_tensor(trained.out, &[dims.batch, dims.channels_out, dims.frames]);
    let output = match BlockBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let state = BlockState(Arc::new(State {
                dims,
                weights,
                saved: trained.saved,
                input: input_flex,
                mask,
            }));
            prep.finish(state, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(C::wrap(output))
}

/// `running = (1 - momentum) running + momentum batch`, as Burn's `BatchNorm` does.
fn update_running(norm: &BatchNorm, mean: &[f32], var: &[f32]) {
    let blend = |state: &burn::module::RunningState<Tensor<1>>, batch: &[f32]| {
        let old = state.value_sync();
        let device = old.device();
        let m = norm.momentum;
        let new: Vec<f32> = crate::host::read_f32(&old)
            .iter()
            .zip(batch)
            .map(|(&o, &b)| (o as f64 * (1.0 - m) + b as f64 * m) as f32)
            .collect();
        let len = new.len();
        state.update(Tensor::from_data(TensorData::new(new, [len]), &device));
    };
    blend(&norm.running_mean, mean);
    blend(&norm.running_var, var);
}

#[derive(Debug)]
struct BlockBackward;

/// What the backward pass needs, shared (the state is cloned by the graph).
#[derive(Clone, Debug)]
struct BlockState(Arc<State>);

struct State {
    dims: BlockDims,
    weights: Weights,
    saved: Saved,
    /// The block's input (a reference-counted view, not a copy).
    input: FlexTensor,
    mask: Option<Vec<f32>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("dims", &self.dims).finish()
    }
}

impl Backward<Flex, 9> for BlockBackward {
    type State = BlockState;

    fn backward(
        self,
        ops: Ops<Self::State, 9>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let state = &ops.state.0;
        let grad = grads.consume::<Flex>(&ops.node);
        let grad = host(&grad);
        let input = strided3(&state.input).expect("checked in the forward pass");
        let g = conv_block::backward(
            &state.dims,
            &state.weights,
            &state.saved,
            input,
            state.mask.as_deref(),
            &grad,
            ops.parents[0].is_some(),
        );
        let d = &state.dims;
        let conv1 = vec![d.channels_out, d.channels_in, d.kernel];
        let conv2 = vec![d.channels_out, d.channels_out, d.kernel];
        let channel = vec![d.channels_out];
        let results: [(Option<Vec<f32>>, Vec<usize>); 9] = [
            (g.input, vec![d.batch, d.channels_in, d.frames]),
            (Some(g.params.conv1), conv1),
            (Some(g.params.bias1), channel.clone()),
            (Some(g.params.gamma1), channel.clone()),
            (Some(g.params.beta1), channel.clone()),
            (Some(g.params.conv2), conv2),
            (Some(g.params.bias2), channel.clone()),
            (Some(g.params.gamma2), channel.clone()),
            (Some(g.params.beta2), channel),
        ];
        for (parent, (values, shape)) in ops.parents.iter().zip(results) {
            if let (Some(node), Some(values)) = (parent, values) {
                grads.register::<Flex>(node.id, flex_tensor(values, &shape));
            }
        }
    }
}
