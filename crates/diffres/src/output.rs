//! What every front end returns.

use burn::prelude::*;

use crate::warp::WarpPlan;

/// The output contract shared by DiffRes and every baseline.
#[derive(Debug)]
pub struct FrontEndOutput {
    /// Classifier input, `[B, C, t, F]`: `C = 3` for DiffRes (mean, max, resolution encoding),
    /// 1 for the baselines.
    pub feature: Tensor<4>,
    /// Normalised frame scores `[B, T]` (DiffRes only).
    pub score: Option<Tensor<2>>,
    /// Guide loss, `[1]` (0 for the baselines). Add it to the classification loss.
    pub guide_loss: Tensor<1>,
    /// Activeness, `[1]` (0 for the baselines). A diagnostic, detached.
    pub activeness: Tensor<1>,
    /// DiffRes's warp bookkeeping: which input frames went where (for plots).
    pub plan: Option<WarpPlan>,
}
