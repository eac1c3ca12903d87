//! The warp as a flex operation: the forward pass on the host, the backward pass registered in
//! Burn's autodiff graph as one node with three parents (input, scores, positional encoding).
//! The caller describes the warp as plain data ([`WarpSpec`], from its plan).

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::prelude::*;

use super::flex::{flex_kind, flex_tensor, host, plain, strided3, FlexKind, Strategy};
use super::warp_kernel::{self, Routes, WarpDims, WarpInputs, WarpSaved, WarpSpec};

/// The warp's feature `[B, 3, t, F]` and per-frame energies `[B, T]` (detached) on flex, or
/// `None` when the portable path must be taken. `x` is `[B, T, F]`, `score` `[B, T]`,
/// `positions` `[T, F]`; `spec` routes every frame into `out_frames` rows.
pub(crate) fn warp(
    x: &Tensor<3>,
    score: &Tensor<2>,
    positions: &Tensor<2>,
    out_frames: usize,
    spec: WarpSpec<'_>,
) -> Option<(Tensor<4>, Tensor<2>)> {
    let [batch, frames, mels] = x.dims();
    let dims = WarpDims {
        batch,
        frames,
        out_frames,
        mels,
    };
    match flex_kind(x)? {
        FlexKind::Plain => warp_plain(x, score, positions, dims, spec),
        FlexKind::Autodiff => warp_tracked::<NoCheckpointing>(x, score, positions, dims, spec),
        FlexKind::AutodiffBalanced => {
            warp_tracked::<BalancedCheckpointing>(x, score, positions, dims, spec)
        }
    }
}

fn warp_plain(
    x: &Tensor<3>,
    score: &Tensor<2>,
    positions: &Tensor<2>,
    dims: WarpDims,
    spec: WarpSpec<'_>,
) -> Option<(Tensor<4>, Tensor<2>)> {
    let x = plain(x.clone())?;
    let score = plain(score.clone())?;
    let positions = plain(positions.clone())?;
    let inputs = WarpInputs {
        x: strided3(&x)?,
        score: &host(&score),
        positions: &host(&positions),
    };
    let out = warp_kernel::forward(&dims, &inputs, &spec);
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
    spec: WarpSpec<'_>,
) -> Option<(Tensor<4>, Tensor<2>)> {
    let device = x.device();
    let x_ad = C::tracked::<3>(x.clone())?;
    let score_ad = C::tracked::<2>(score.clone())?;
    let positions_ad = C::tracked::<2>(positions.clone())?;
    let x_flex = x_ad.primitive().clone();
    let score_host = host(score_ad.primitive()).into_owned();
    let positions_host = host(positions_ad.primitive()).into_owned();
    let inputs = WarpInputs {
        x: strided3(&x_flex)?,
        score: &score_host,
        positions: &positions_host,
    };
    let out = warp_kernel::forward(&dims, &inputs, &spec);
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
                first_row: spec.routes.first_row.to_vec(),
                second_row: spec.routes.second_row.to_vec(),
                overhang: spec.routes.overhang.to_vec(),
                lengths: spec.lengths.to_vec(),
                delta: spec.delta,
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
        let inputs = WarpInputs {
            x: strided3(&s.x).expect("checked in the forward pass"),
            score: &s.score,
            positions: &s.positions,
        };
        let spec = WarpSpec {
            routes: Routes {
                first_row: &s.first_row,
                second_row: &s.second_row,
                overhang: &s.overhang,
            },
            lengths: &s.lengths,
            delta: s.delta,
        };
        let g = warp_kernel::backward(
            &s.dims,
            &inputs,
            &spec,
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
