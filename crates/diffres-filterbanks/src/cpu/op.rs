//! The fused energies as a flex operation: the forward pass on the host, the backward pass
//! registered in Burn's autodiff graph as one node with three parents (waveform, kernels,
//! pooling window). The callers hand over tensors and plain numbers, never modules.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Flex;
use burn::prelude::*;

use super::kernel::{self, Dims};
use diffres::kernel_support::{flex_kind, flex_tensor, host, plain, FlexKind, Strategy};

/// `pool(|filter(x, weight)|^2, window, hop)` on flex, or `None` when the portable path must
/// be taken (another backend, non-`f32` data, shapes the kernel does not cover, host kernels
/// turned off). `x` `[B, N]`, `weight` `[C, 1, K]` (`K` odd; with `complex`, `C = 2 F` rows:
/// real parts then imaginary parts), `window` `[F, 1, P]` or `[1, 1, P]` (`P` odd).
/// Output `[B, F, ceil(N / hop)]`.
pub(crate) fn energies(
    x: &Tensor<2>,
    weight: &Tensor<3>,
    window: &Tensor<3>,
    hop: usize,
    complex: bool,
) -> Option<Tensor<3>> {
    if !super::enabled() {
        return None;
    }
    let kind = flex_kind(x)?;
    if flex_kind(weight)? != kind || flex_kind(window)? != kind {
        return None;
    }
    let dims = dims(x, weight, window, hop, complex)?;
    match kind {
        FlexKind::Plain => {
            let values = |t: Tensor<3>| plain(t).map(|t| host(&t).into_owned());
            let (w, win) = (values(weight.clone())?, values(window.clone())?);
            let x = plain(x.clone())?;
            let xpad = kernel::pad_batch(&dims, &host(&x));
            let out = kernel::forward(&dims, &w, &win, &xpad, super::algorithm());
            let shape = [dims.batch, dims.filters(), dims.frames()];
            Some(Tensor::from_primitive::<Flex>(flex_tensor(out, &shape)))
        }
        FlexKind::Autodiff => tracked::<NoCheckpointing>(x, weight, window, dims),
        FlexKind::AutodiffBalanced => tracked::<BalancedCheckpointing>(x, weight, window, dims),
    }
}

/// The call's sizes, if the kernel covers them.
fn dims(
    x: &Tensor<2>,
    weight: &Tensor<3>,
    window: &Tensor<3>,
    hop: usize,
    complex: bool,
) -> Option<Dims> {
    let [batch, samples] = x.dims();
    let [channels, one, taps] = weight.dims();
    let [rows, one_w, pool] = window.dims();
    let filters = if complex { channels / 2 } else { channels };
    let fits = batch > 0
        && samples > 0
        && channels > 0
        && one == 1
        && one_w == 1
        && taps % 2 == 1
        && pool % 2 == 1
        && hop > 0
        && (!complex || channels % 2 == 0)
        && (rows == 1 || rows == filters);
    fits.then_some(Dims {
        batch,
        samples,
        channels,
        taps,
        pool,
        hop,
        complex,
        shared_window: rows == 1,
    })
}

fn tracked<C: Strategy>(
    x: &Tensor<2>,
    weight: &Tensor<3>,
    window: &Tensor<3>,
    dims: Dims,
) -> Option<Tensor<3>> {
    let x_ad = C::tracked::<2>(x.clone())?;
    let w_ad = C::tracked::<3>(weight.clone())?;
    let win_ad = C::tracked::<3>(window.clone())?;
    let w = host(w_ad.primitive()).into_owned();
    let win = host(win_ad.primitive()).into_owned();
    let xpad = kernel::pad_batch(&dims, &host(x_ad.primitive()));
    let out = kernel::forward(&dims, &w, &win, &xpad, super::algorithm());
    let out = flex_tensor(out, &[dims.batch, dims.filters(), dims.frames()]);
    let nodes = [x_ad.node(), w_ad.node(), win_ad.node()];
    let output = match EnergyBackward
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let state = EnergyState(Arc::new(State {
                dims,
                weight: w,
                window: win,
                xpad,
                algorithm: super::algorithm(),
            }));
            prep.finish(state, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(C::wrap(output))
}

#[derive(Debug)]
struct EnergyBackward;

/// What the backward pass needs, shared (the graph clones the state).
#[derive(Clone, Debug)]
struct EnergyState(Arc<State>);

struct State {
    dims: Dims,
    weight: Vec<f32>,
    window: Vec<f32>,
    /// The zero-padded waveform batch (the filter outputs are recomputed from it).
    xpad: Vec<f32>,
    /// The forward pass's algorithm (the backward pass may run on another thread).
    algorithm: super::HostAlgorithm,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("dims", &self.dims).finish()
    }
}

impl Backward<Flex, 3> for EnergyBackward {
    type State = EnergyState;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let s = &ops.state.0;
        let grad = grads.consume::<Flex>(&ops.node);
        let grad = host(&grad);
        let [x_parent, w_parent, win_parent] = &ops.parents;
        let want = (x_parent.is_some(), w_parent.is_some(), win_parent.is_some());
        let inputs = (&s.weight[..], &s.window[..], &s.xpad[..]);
        let g = kernel::backward(&s.dims, inputs, &grad, want, s.algorithm);
        let d = &s.dims;
        let rows = if d.shared_window { 1 } else { d.filters() };
        if let (Some(node), Some(values)) = (x_parent, g.x) {
            grads.register::<Flex>(node.id, flex_tensor(values, &[d.batch, d.samples]));
        }
        if let (Some(node), Some(values)) = (w_parent, g.weight) {
            grads.register::<Flex>(node.id, flex_tensor(values, &[d.channels, 1, d.taps]));
        }
        if let (Some(node), Some(values)) = (win_parent, g.window) {
            grads.register::<Flex>(node.id, flex_tensor(values, &[rows, 1, d.pool]));
        }
    }
}
