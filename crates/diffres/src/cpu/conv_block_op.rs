//! The fused [`crate::ResConv1d`] block as a flex operation: the forward pass on the host, the
//! backward pass registered in Burn's autodiff graph as one node with nine parents (the input
//! and the eight parameters).
//!
//! The block hands its parameters over as plain data ([`BlockParams`]), so this module knows
//! nothing of the module types that call it; in training it returns the batch statistics and
//! the caller updates its running statistics ([`BlockOutput::batch_stats`]).

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::prelude::*;

use super::conv_block::{self, Affine, BlockDims, Saved, Weights};
use super::flex::{flex_kind, flex_tensor, host, plain, strided3, AdTensor, FlexKind, Strategy};
use crate::kernel_support::NormParams;

/// A block's two convolutions and two batch norms, as tensors and plain numbers:
/// `h1 = norm1(relu(conv1(x m)))`, `out = h1 + norm2(relu(conv2(h1 m)))`.
pub(crate) struct BlockParams {
    /// The first convolution, `C_in -> C_out`.
    pub conv1: ConvParams,
    /// The batch norm after the first convolution's ReLU.
    pub norm1: NormParams,
    /// The second convolution, `C_out -> C_out`.
    pub conv2: ConvParams,
    /// The batch norm after the second convolution's ReLU.
    pub norm2: NormParams,
}

/// One 1-D convolution. The kernel covers stride 1, one group, a bias, an odd kernel and
/// symmetric explicit padding `dilation (K - 1) / 2` (the length is kept); anything else
/// takes the portable path.
pub(crate) struct ConvParams {
    /// `[C_out, C_in, K]`.
    pub weight: Tensor<3>,
    /// `[C_out]`, or `None` for a convolution without bias.
    pub bias: Option<Tensor<1>>,
    /// Stride.
    pub stride: usize,
    /// Dilation.
    pub dilation: usize,
    /// Groups.
    pub groups: usize,
    /// Explicit zero padding `(left, right)`, or `None` for another padding rule.
    pub padding: Option<(usize, usize)>,
}

/// The fused block's result.
pub(crate) struct BlockOutput {
    /// `[B, C_out, T]`.
    pub out: Tensor<3>,
    /// In training, each norm's batch statistics, `[norm1, norm2]`, to be blended into the
    /// running statistics by the caller; `None` in inference.
    pub batch_stats: Option<[BatchStats; 2]>,
}

/// A batch norm's statistics over one batch (`B T` values per channel, padding included).
pub(crate) struct BatchStats {
    /// Mean, `[C_out]`.
    pub mean: Vec<f32>,
    /// Biased variance, `[C_out]`.
    pub var: Vec<f32>,
}

/// The block on flex, or `None` when the portable path must be taken (another backend,
/// non-`f32` data, a frozen batch norm under autodiff, a convolution this kernel does not
/// cover).
pub(crate) fn forward(
    block: &BlockParams,
    x: &Tensor<3>,
    mask: Option<&Tensor<3>>,
) -> Option<BlockOutput> {
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
fn dims(block: &BlockParams, x: &Tensor<3>) -> Option<BlockDims> {
    let [batch, channels_in, frames] = x.dims();
    let [channels_out, cin, kernel] = block.conv1.weight.dims();
    let fits = |conv: &ConvParams, cin: usize| {
        let [o, i, k] = conv.weight.dims();
        let pad = conv.dilation * (k - 1) / 2;
        (o, i, k) == (channels_out, cin, kernel)
            && conv.dilation == block.conv1.dilation
            && conv.stride == 1
            && conv.groups == 1
            && conv.bias.is_some()
            && k % 2 == 1
            && conv.padding == Some((pad, pad))
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
    block: &BlockParams,
    x: &Tensor<3>,
    mask: Option<Vec<f32>>,
    dims: BlockDims,
) -> Option<BlockOutput> {
    let values = |t: Tensor<1>| plain(t).map(|t| host(&t).into_owned());
    let weights = Weights {
        conv1: plain(block.conv1.weight.clone()).map(|t| host(&t).into_owned())?,
        bias1: values(block.conv1.bias.clone()?)?,
        gamma1: values(block.norm1.gamma.clone())?,
        beta1: values(block.norm1.beta.clone())?,
        conv2: plain(block.conv2.weight.clone()).map(|t| host(&t).into_owned())?,
        bias2: values(block.conv2.bias.clone()?)?,
        gamma2: values(block.norm2.gamma.clone())?,
        beta2: values(block.norm2.beta.clone())?,
    };
    let running = |norm: &NormParams| {
        let mean = values(norm.running_mean.clone())?;
        let var = values(norm.running_var.clone())?;
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
    Some(BlockOutput {
        out: super::flex::plain_tensor(out, [dims.batch, dims.channels_out, dims.frames]),
        batch_stats: None,
    })
}

fn forward_tracked<C: Strategy>(
    block: &BlockParams,
    x: &Tensor<3>,
    mask: Option<Vec<f32>>,
    dims: BlockDims,
) -> Option<BlockOutput> {
    if !(block.norm1.training && block.norm2.training) {
        return None;
    }
    let input = C::tracked::<3>(x.clone())?;
    let conv1 = C::tracked::<3>(block.conv1.weight.clone())?;
    let bias1 = C::tracked::<1>(block.conv1.bias.clone()?)?;
    let gamma1 = C::tracked::<1>(block.norm1.gamma.clone())?;
    let beta1 = C::tracked::<1>(block.norm1.beta.clone())?;
    let conv2 = C::tracked::<3>(block.conv2.weight.clone())?;
    let bias2 = C::tracked::<1>(block.conv2.bias.clone()?)?;
    let gamma2 = C::tracked::<1>(block.norm2.gamma.clone())?;
    let beta2 = C::tracked::<1>(block.norm2.beta.clone())?;
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
    let [(mean1, var1), (mean2, var2)] = trained.batch_stats;
    let batch_stats = [
        BatchStats {
            mean: mean1,
            var: var1,
        },
        BatchStats {
            mean: mean2,
            var: var2,
        },
    ];

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
    Some(BlockOutput {
        out: C::wrap(output),
        batch_stats: Some(batch_stats),
    })
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
