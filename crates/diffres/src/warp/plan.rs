//! [`WarpPlan`]: where every input frame of a warp goes, computed on the host in `f64`.

use crate::ablation::WarpKind;
use crate::cpu::warp_kernel::Routes;

/// Host-side bookkeeping of a warp: for every input frame, its two output rows and the split of
/// its score between them.
#[derive(Clone, Debug)]
pub struct WarpPlan {
    pub(super) batch: usize,
    pub(super) frames: usize,
    pub(super) out_frames: usize,
    /// Global row (`b * (t + 1) + k`) of each frame's first output frame; row `t` of a sample is
    /// a sink for weight past the end (float rounding only).
    pub(super) first_row: Vec<i64>,
    /// Global row of the next output frame.
    pub(super) second_row: Vec<i64>,
    /// `C_j - (k0 + 1)`: how far the frame reaches into the next output frame (negative if not).
    pub(super) overhang: Vec<f32>,
    /// Cumulative sums, kept for [`WarpPlan::sparse`] and [`WarpPlan::extents`].
    cumsum: Vec<f64>,
    score: Vec<f64>,
    /// Equation 5 and Algorithm 1, or equation 5 alone.
    kind: WarpKind,
}

impl WarpPlan {
    /// Builds the plan from normalised scores (`batch * frames` values, row-major) and `t`.
    pub fn new(score: &[f64], batch: usize, frames: usize, out_frames: usize) -> Self {
        assert_eq!(
            score.len(),
            batch * frames,
            "scores must be [batch, frames]"
        );
        let n = batch * frames;
        let mut first_row = vec![0i64; n];
        let mut second_row = vec![0i64; n];
        let mut overhang = vec![0f32; n];
        let mut cumsum = vec![0f64; n];
        let t = out_frames as i64;
        for b in 0..batch {
            let base = b as i64 * (t + 1);
            let mut before = 0f64;
            for j in 0..frames {
                let i = b * frames + j;
                let after = before + score[i];
                let k0 = (before.floor() as i64).clamp(0, t);
                first_row[i] = base + k0;
                second_row[i] = base + (k0 + 1).min(t);
                overhang[i] = (after - (k0 + 1) as f64) as f32;
                cumsum[i] = after;
                before = after;
            }
        }
        Self {
            batch,
            frames,
            out_frames,
            first_row,
            second_row,
            overhang,
            cumsum,
            score: score.to_vec(),
            kind: WarpKind::Full,
        }
    }

    /// The plan of the paper's equation 5 alone (the `--warp eq5` ablation, without Algorithm
    /// 1): frame `j` goes whole, with weight `s_j`, to the output frame `k` with
    /// `k < C_j <= k + 1`, so no frame is split and row sums vary. Frames with `C_j <= 0` (no
    /// score yet) or `C_j > t` have no row, as in the reference's mask; they go to the sink
    /// row. A cumulative sum above `t` by rounding only (relative 1e-12) counts as `t`. The warp kernels take this plan as it is: every overhang is negative, so
    /// every frame has a first share `s_j` and no second one.
    pub fn eq5(score: &[f64], batch: usize, frames: usize, out_frames: usize) -> Self {
        let mut plan = Self::new(score, batch, frames, out_frames);
        let t = out_frames as i64;
        for b in 0..batch {
            let base = b as i64 * (t + 1);
            for j in 0..frames {
                let i = b * frames + j;
                let c = plan.cumsum[i];
                // The last frames' cumulative sum is `t` up to rounding (`t + 4e-15`): they
                // belong to the last row, not past it.
                let c_end = if c > t as f64 && c <= t as f64 * (1.0 + 1e-12) {
                    t as f64
                } else {
                    c
                };
                let k = c_end.ceil() as i64 - 1;
                let row = if c_end > 0.0 && (0..t).contains(&k) {
                    k
                } else {
                    t
                };
                plan.first_row[i] = base + row;
                plan.second_row[i] = base + t;
                plan.overhang[i] = -1.0;
            }
        }
        plan.kind = WarpKind::Eq5;
        plan
    }

    /// Which warp this plan routes: equation 5 and Algorithm 1, or equation 5 alone.
    pub fn kind(&self) -> WarpKind {
        self.kind
    }

    /// Output frames `t`.
    pub fn out_frames(&self) -> usize {
        self.out_frames
    }

    /// Each frame's output rows and overhang, as the warp kernel takes them.
    pub(crate) fn routes(&self) -> Routes<'_> {
        Routes {
            first_row: &self.first_row,
            second_row: &self.second_row,
            overhang: &self.overhang,
        }
    }

    /// The non-zero warp weights of sample `b` as `(input frame j, output frame k, W[k, j])`,
    /// in the order of `j`. Weight that rounding pushes past the last output frame is dropped.
    pub fn sparse(&self, b: usize) -> Vec<(usize, usize, f64)> {
        let mut out = Vec::new();
        if self.kind == WarpKind::Eq5 {
            let t = self.out_frames as i64;
            for j in 0..self.frames {
                let i = b * self.frames + j;
                let k = self.first_row[i] - b as i64 * (t + 1);
                if k < t && self.score[i] > 0.0 {
                    out.push((j, k as usize, self.score[i]));
                }
            }
            return out;
        }
        for j in 0..self.frames {
            let i = b * self.frames + j;
            let after = self.cumsum[i];
            let before = after - self.score[i];
            let k0 = before.floor().max(0.0) as usize;
            for k in [k0, k0 + 1] {
                if k >= self.out_frames {
                    continue;
                }
                let w = (after.min((k + 1) as f64) - before.max(k as f64)).max(0.0);
                if w > 0.0 {
                    out.push((j, k, w));
                }
            }
        }
        out
    }

    /// Where each output frame of sample `b` lies on the input axis, as `(start, end)` in input
    /// frames (fractional): output frame `k` spans the inputs whose cumulative score lies in
    /// `[k, k+1)`. Merged frames are wide, kept frames narrow. For plots.
    pub fn extents(&self, b: usize) -> Vec<(f64, f64)> {
        if self.kind == WarpKind::Eq5 {
            // Whole frames: output frame k spans the frames routed to it.
            let mut spans = vec![(f64::INFINITY, f64::NEG_INFINITY); self.out_frames];
            for (j, k, _) in self.sparse(b) {
                spans[k] = (spans[k].0.min(j as f64), spans[k].1.max((j + 1) as f64));
            }
            let mut end = 0.0;
            return spans
                .into_iter()
                .map(|(start, stop)| {
                    if start > stop {
                        (end, end) // no frame: an empty span where the last one ended
                    } else {
                        end = stop;
                        (start, stop)
                    }
                })
                .collect();
        }
        let position = |level: f64| -> f64 {
            for j in 0..self.frames {
                let i = b * self.frames + j;
                let after = self.cumsum[i];
                if after >= level && self.score[i] > 0.0 {
                    let before = after - self.score[i];
                    return j as f64 + ((level - before) / self.score[i]).clamp(0.0, 1.0);
                }
            }
            self.frames as f64
        };
        (0..self.out_frames)
            .map(|k| (position(k as f64), position((k + 1) as f64)))
            .collect()
    }
}
