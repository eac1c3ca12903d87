//! The warp as a flex operation: the forward pass on the host, the backward pass registered in
//! Burn's autodiff graph as one node with three parents (input, scores, positional encoding).

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::prelude::*;

use super::flex::{flex_kind, flex_tensor, host, plain, strided3, FlexKind, Strategy};
use super::warp_kernel::{self, Routes, WarpDims, WarpSaved};
use crate::warp::WarpPlan;

/// The warp's feature `[B, 3, t, F]` and per-frame energies `[B, T]` (detached) on flex, or
/// `None` when the portable path must be taken.
pub(crate) fn warp(
    x: &Tensor<3>,
    score: &Tensor<2>,
    plan: &WarpPlan,
    positions: &Tensor<2>,
    lengths: &[usize],
    delta: f64,
) -> Option<(Tensor<4>, Tensor<2>)> {
    let [batch, frames, mels] = x.dims();
    let dims = WarpDims {
        batch,
        frames,
        out_frames: plan.out_frames(),
        mels,
    };
    let args = Args {
        plan,
        lengths,
        delta,
    };
    match flex_kind(x)? {
        FlexKind::Plain => warp_plain(x, score, positions, dims, args),
        FlexKind::Autodiff => warp_tracked::<NoCheckpointing>(x, score, positions, dims, args),
        FlexKind::AutodiffBalanced => {
            warp_tracked::<BalancedCheckpointing>(x, score, positions, dims, args)
        }
    }
}

#[derive(Clone, Copy)]
struct Args<'a> {
    plan: &'a WarpPlan,
    lengths: &'a [usize],
    delta: f64,
}

fn routes(plan: &WarpPlan) -> Routes<'_> {
    Routes {
        first_row: &plan.first_row,
        second_row: &plan.second_row,
        overhang: &plan.overhang,
    }
}

fn warp_plain(
    x: &Tensor<3>,
    score: &Tensor<2>,
    positions: &Tensor<2>,
    dims: WarpDims,
    args: Args<'_>,
) -> Option<(Tensor<4>, Tensor<2>)> {
    let x = plain(x.clone())?;
    let score = plain(score.clone())?;
    let positions = plain(positions.clone())?;
    let out = warp_kernel::forward(
        &dims,
        strided3(&x)?,
        &host(&score),
        &host(&positions),
        &routes(args.plan),
        args.lengths,
        args.delta,
    );
    Some((
        super::flex::plain_tensor(out.feature, [dims.batch, 3, dims.out_frames, dims.mels]),
        super::flex::plain_tensor(out.energy, [dims.batch, dims.frames]),
    ))
}

fn warp_tracked<C: Strategy>(
    x: &Tensor<3>,
    score: &Tensor<2>,
    positions: &Tensor<2>,
    dims: WarpDims,
    args: Args<'_>,
) -> Option<(Tensor<4>, Tensor<2>)> {
    let device = x.device();
    let x_ad = C::tracked::<3>(x.clone())?;
    let score_ad = C::tracked::<2>(score.clone())?;
    let positions_ad = C::tracked::<2>(positions.clone())?;
    let x_flex = x_ad.primitive().clone();
    let score_host = host(score_ad.primitive()).into_owned();
    let positions_host = host(positions_ad.primitive()).into_owned();
    let out = warp_kernel::forward(
        &dims,
        strided3(&x_flex)?,
        &score_host,
        &positions_host,
        &routes(args.plan),
        args.lengths,
        args.delta,
    );
    let energy = Tensor::<2>::from_data(
        TensorData::new(out.energy, [dims.batch, dims.frames]),
        &device,
    );
    let feature = flex_tensor(out.feature, &[dims.batch, 3, dims.out_frames, dims.mels]);
    // Kept for the backward pass (shared, not copied; flex copies on write).
    let feature_kept = feature.clone();
    let nodes = [x_ad.node(), score_ad.node(), positions_ad.node()];
    let output = match WarpBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let state = WarpState(Arc::new(State {
                dims,
                x: x_flex,
                score: score_host,
                positions: positions_host,
                first_row: args.plan.first_row.clone(),
                second_row: args.plan.second_row.clone(),
                overhang: args.plan.overhang.clone(),
                lengths: args.lengths.to_vec(),
                delta: args.delta,
                saved: out.saved,
                feature: feature_kept,
            }));
            prep.finish(state, feature)
        }
        OpsKind::UnTracked(prep) => prep.finish(feature),
    };
    Some((C::wrap(output), energy))
}

#[derive(Debug)]
struct WarpBackward;

#[derive(Clone, Debug)]
struct WarpState(Arc<State>);

struct State {
    dims: WarpDims,
    /// The input (a reference-counted view, not a copy).
    x: FlexTensor,
    score: Vec<f32>,
    positions: Vec<f32>,
    first_row: Vec<i64>,
    second_row: Vec<i64>,
    overhang: Vec<f32>,
    lengths: Vec<usize>,
    delta: f64,
    saved: WarpSaved,
    /// The forward output.
    feature: FlexTensor,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("dims", &self.dims).finish()
    }
}

impl Backward<Flex, 3> for WarpBackward {
    type State = WarpState;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let s = &ops.state.0;
        let grad = grads.consume::<Flex>(&ops.node);
        let grad = host(&grad);
        let [x_parent, score_parent, positions_parent] = &ops.parents;
        let g = warp_kernel::backward(
            &s.dims,
            strided3(&s.x).expect("checked in the forward pass"),
            &s.score,
            &s.positions,
            &Routes {
                first_row: &s.first_row,
                second_row: &s.second_row,
                overhang: &s.overhang,
            },
            &s.lengths,
            s.delta,
            &s.saved,
            &host(&s.feature),
            &grad,
            (x_parent.is_some(), positions_parent.is_some()),
        );
        let d = &s.dims;
        if let (Some(node), Some(values)) = (x_parent, g.x) {
            grads.register::<Flex>(node.id, flex_tensor(values, &[d.batch, d.frames, d.mels]));
        }
        if let Some(node) = score_parent {
            grads.register::<Flex>(node.id, flex_tensor(g.score, &[d.batch, d.frames]));
        }
        if let (Some(node), Some(values)) = (positions_parent, g.positions) {
            grads.register::<Flex>(node.id, flex_tensor(values, &[d.frames, d.mels]));
        }
    }
}
