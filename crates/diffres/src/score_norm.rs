//! Score normalisation: from sigmoid scores `s'` to warp scores `s`.
//!
//! The warp needs `s` in `[0, 1]` with `sum(s) == t`, so that every one of the `t` output
//! frames receives a total weight of exactly 1. [`ScoreNormalization::ExactSum`] (the default)
//! guarantees it by water-filling: `s = min(1, c * s')` with the one `c` that makes the sum `t`
//! (rescale to sum `t`, clip at 1, redistribute the excess over the unclipped frames, repeat).
//! [`ScoreNormalization::Reference`] is the authors' three-step rule (rescale; divide by the
//! maximum when it is >= 1; pull the scores in `(1e-4, 1 - 1e-4)` toward 1 by `s + a(1 - s)`),
//! kept for compatibility: it can leave output rows empty or the last row partial.
//!
//! On the flex path both are computed twice: on the host in `f64` (to decide the clipped set and
//! to feed the warp an accurate cumulative sum) and on the device with differentiable tensor ops
//! that give the same values and the right gradient with respect to `s'`. On every other backend
//! ([`normalize_device`]) the decisions are taken on the device too, in `f32`, and nothing is
//! read back.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Which rule turns sigmoid scores into warp scores. See the [module docs](self).
///
/// Serialised with the command line's spellings (`exact`, `reference`); the variant names
/// written by run format 1 (`ExactSum`, `Reference`) are still read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoreNormalization {
    /// Water-filling: `s in [0, 1]` and `sum(s) == t` exactly (over valid frames).
    #[default]
    #[serde(rename = "exact", alias = "ExactSum")]
    ExactSum,
    /// The reference implementation's rule (compatibility only).
    #[serde(rename = "reference", alias = "Reference")]
    Reference,
}

impl ScoreNormalization {
    /// The command-line name: `exact` or `reference`.
    pub fn name(self) -> &'static str {
        match self {
            ScoreNormalization::ExactSum => "exact",
            ScoreNormalization::Reference => "reference",
        }
    }
}

impl std::fmt::Display for ScoreNormalization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ScoreNormalization {
    type Err = crate::DiffResError;

    /// `exact` or `reference` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "exact" | "exactsum" | "exact-sum" => Ok(ScoreNormalization::ExactSum),
            "reference" => Ok(ScoreNormalization::Reference),
            other => Err(crate::DiffResError::Config(format!(
                "score normalisation '{other}': expected exact or reference"
            ))),
        }
    }
}

/// Normalised scores: the differentiable device tensor and its `f64` host copy.
pub struct Normalized {
    /// `[B, T]`, differentiable with respect to the raw scores.
    pub score: Tensor<2>,
    /// `B * T` values, row-major, computed in `f64`.
    pub host: Vec<f64>,
}

/// Water-filling on the host: returns `s` with `s_i = min(1, c * s'_i)` and `sum(s) = min(t, n)`.
///
/// All-zero input is treated as uniform.
///
/// ```
/// let s = diffres::score_norm::exact_sum(&[0.99, 0.05, 0.05, 0.05], 2);
/// assert!((s.iter().sum::<f64>() - 2.0).abs() < 1e-12);
/// assert_eq!(s[0], 1.0);
/// assert!((s[1] - 1.0 / 3.0).abs() < 1e-12);
/// ```
pub fn exact_sum(raw: &[f64], t: usize) -> Vec<f64> {
    let plan = water_fill(raw, t);
    raw.iter()
        .zip(&plan.clipped)
        .map(|(&r, &k)| {
            if k {
                1.0
            } else {
                (r + plan.offset) * plan.scale
            }
        })
        .collect()
}

struct WaterFill {
    clipped: Vec<bool>,
    /// Added to every score (1 when all scores are 0, so they count as uniform).
    offset: f64,
    /// `c`: the factor applied to unclipped scores.
    scale: f64,
}

fn water_fill(raw: &[f64], t: usize) -> WaterFill {
    let n = raw.len();
    let offset = if raw.iter().sum::<f64>() > 0.0 {
        0.0
    } else {
        1.0
    };
    let mut clipped = vec![false; n];
    let mut n_clipped = 0usize;
    let mut scale = 0.0;
    if t >= n {
        return WaterFill {
            clipped: vec![true; n],
            offset,
            scale,
        };
    }
    // Each pass clips at least one more frame or stops; in practice 1-3 passes.
    loop {
        let rest: f64 = raw
            .iter()
            .zip(&clipped)
            .filter(|(_, &k)| !k)
            .map(|(&r, _)| r + offset)
            .sum();
        let budget = (t - n_clipped) as f64;
        if budget <= 0.0 || rest <= 0.0 {
            scale = 0.0;
            break;
        }
        scale = budget / rest;
        let mut changed = false;
        for (r, k) in raw.iter().zip(clipped.iter_mut()) {
            if !*k && (r + offset) * scale >= 1.0 {
                *k = true;
                n_clipped += 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    WaterFill {
        clipped,
        offset,
        scale,
    }
}

const RESCALE_MIN: f64 = 1e-4;
const RESCALE_MAX: f64 = 1.0 - 1e-4;

/// Per-sample decisions of the reference rule.
struct ReferenceTrace {
    max_rescaled: bool,
    redistributed: bool,
    alpha_capped: bool,
    axis: Vec<bool>,
    values: Vec<f64>,
}

fn reference_trace(raw: &[f64], t: usize) -> ReferenceTrace {
    let sum: f64 = raw.iter().sum();
    let sum = if sum > 0.0 { sum } else { f64::MIN_POSITIVE };
    let mut s: Vec<f64> = raw.iter().map(|v| v / sum * t as f64).collect();
    let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let max_rescaled = max >= 1.0;
    let mut trace = ReferenceTrace {
        max_rescaled,
        redistributed: false,
        alpha_capped: false,
        axis: vec![false; raw.len()],
        values: Vec::new(),
    };
    if max_rescaled {
        s.iter_mut().for_each(|v| *v /= max);
        let distance = t as f64 - s.iter().sum::<f64>();
        let axis: Vec<bool> = s
            .iter()
            .map(|&v| v < RESCALE_MAX && v > RESCALE_MIN)
            .collect();
        let interval: f64 = s
            .iter()
            .zip(&axis)
            .filter(|(_, &a)| a)
            .map(|(v, _)| 1.0 - v)
            .sum();
        if distance >= 1.0 && interval > 0.0 {
            let alpha_raw = distance / interval;
            let alpha = alpha_raw.min(1.0);
            for (v, &a) in s.iter_mut().zip(&axis) {
                if a {
                    *v += (1.0 - *v) * alpha;
                }
            }
            trace.redistributed = true;
            trace.alpha_capped = alpha_raw > 1.0;
            trace.axis = axis;
        }
    }
    trace.values = s;
    trace
}

/// The reference rule on the host (see the [module docs](self)).
///
/// ```
/// let s = diffres::score_norm::reference(&[0.99, 0.05, 0.05, 0.05, 0.05, 0.99, 0.05, 0.05, 0.05, 0.05], 5);
/// assert!((s[1] - 0.375).abs() < 1e-12);
/// ```
pub fn reference(raw: &[f64], t: usize) -> Vec<f64> {
    reference_trace(raw, t).values
}

/// Normalises raw sigmoid scores `[B, T]` over each sample's first `lengths[b]` frames; frames
/// beyond get 0.
///
/// # Shapes
/// - `raw`: `[B, T]`
/// - output score: `[B, T]`
pub fn normalize(
    raw: Tensor<2>,
    t: usize,
    lengths: &[usize],
    mode: ScoreNormalization,
) -> Normalized {
    let [batch, frames] = raw.dims();
    let device = raw.device();
    let host_raw: Vec<f64> = crate::host::read_f32(&raw)
        .into_iter()
        .map(f64::from)
        .collect();
    let mut host = vec![0f64; batch * frames];
    let mut valid = vec![0f32; batch * frames];
    let mut keep = vec![0f32; batch * frames]; // ExactSum: clipped to 1; Reference: redistributed axis
    let mut per_sample_a = vec![0f32; batch]; // ExactSum: offset; Reference: max-rescale flag
    let mut per_sample_b = vec![0f32; batch]; // ExactSum: t - n_clipped; Reference: redistribute flag
    let mut per_sample_c = vec![0f32; batch]; // Reference: alpha capped flag
    for b in 0..batch {
        let len = lengths[b];
        let row = &host_raw[b * frames..b * frames + len];
        valid[b * frames..b * frames + len].fill(1.0);
        match mode {
            ScoreNormalization::ExactSum => {
                let plan = water_fill(row, t);
                let n_clipped = plan.clipped.iter().filter(|&&k| k).count();
                for (i, &k) in plan.clipped.iter().enumerate() {
                    keep[b * frames + i] = k as u8 as f32;
                    host[b * frames + i] = if k {
                        1.0
                    } else {
                        (row[i] + plan.offset) * plan.scale
                    };
                }
                per_sample_a[b] = plan.offset as f32;
                per_sample_b[b] = t.saturating_sub(n_clipped) as f32;
            }
            ScoreNormalization::Reference => {
                let trace = reference_trace(row, t);
                host[b * frames..b * frames + len].copy_from_slice(&trace.values);
                for (i, &a) in trace.axis.iter().enumerate() {
                    keep[b * frames + i] = a as u8 as f32;
                }
                per_sample_a[b] = trace.max_rescaled as u8 as f32;
                per_sample_b[b] = trace.redistributed as u8 as f32;
                per_sample_c[b] = trace.alpha_capped as u8 as f32;
            }
        }
    }
    let grid = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [batch, frames]), &device);
    let column = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [batch, 1]), &device);
    let valid = grid(valid);
    let keep = grid(keep);
    let score = match mode {
        ScoreNormalization::ExactSum => {
            let offset = column(per_sample_a);
            let budget = column(per_sample_b);
            let free = valid.clone() - keep.clone();
            let effective = (raw + offset) * free.clone();
            let total = effective.clone().sum_dim(1).clamp_min(1e-30); // [B, 1]
            keep + effective * budget / total
        }
        ScoreNormalization::Reference => {
            let max_flag = column(per_sample_a);
            let spread_flag = column(per_sample_b);
            let capped = column(per_sample_c);
            let raw = raw * valid;
            let sum = raw.clone().sum_dim(1).clamp_min(1e-30); // [B, 1]
            let s1 = raw / sum * t as f32;
            let max = s1.clone().max_dim(1); // [B, 1]
            let s2 = s1 / (max * max_flag.clone() - max_flag + 1.0);
            let distance = -s2.clone().sum_dim(1) + t as f32;
            let room = (-s2.clone() + 1.0) * keep.clone();
            let interval = room.clone().sum_dim(1).clamp_min(1e-30);
            let alpha = distance / interval;
            let alpha = alpha * (-capped.clone() + 1.0) + capped;
            s2 + room * alpha * spread_flag
        }
    };
    Normalized { score, host }
}

/// Water-filling passes per round on the device. Each pass clips every frame the current scale
/// pushes to 1; real score curves settle in 1-3 passes, and a round that has not settled is
/// reported (see [`DeviceNormalized::unsettled`]) and repeated with more passes.
pub(crate) const WATER_FILL_PASSES: usize = 8;

/// Normalised scores computed on the device, with nothing read back.
pub(crate) struct DeviceNormalized {
    /// `[B, T]`, differentiable with respect to the raw scores.
    pub(crate) score: Tensor<2>,
    /// `[B, 1]`: 1 where water-filling had not settled after the passes given (the clipped set
    /// was still growing), else 0. Always 0 for [`ScoreNormalization::Reference`].
    pub(crate) unsettled: Tensor<2>,
}

/// [`normalize`] with every decision taken on the device in `f32` (no read back): the clipped
/// set of water-filling after `passes` passes, or the reference rule's branches.
///
/// # Shapes
/// - `raw`, `valid` (1 inside each sample's length, 0 after): `[B, T]`
pub(crate) fn normalize_device(
    raw: Tensor<2>,
    t: usize,
    valid: Tensor<2>,
    mode: ScoreNormalization,
    passes: usize,
) -> DeviceNormalized {
    let [batch, _] = raw.dims();
    let device = raw.device();
    let tf = t as f32;
    match mode {
        ScoreNormalization::ExactSum => {
            let detached = raw.clone().detach() * valid.clone();
            // All-zero scores count as uniform.
            let offset = detached.clone().sum_dim(1).lower_equal_elem(0.0).float(); // [B, 1]
            let e = (detached + offset.clone()) * valid.clone();
            let count = valid.clone().sum_dim(1); // [B, 1]
            let all = count.lower_equal_elem(tf).float(); // t >= n: every frame is 1
            let mut clipped = valid.clone() * all;
            let scale_of = |clipped: &Tensor<2>| {
                let free = valid.clone() - clipped.clone();
                let rest = (e.clone() * free.clone()).sum_dim(1);
                let budget = -clipped.clone().sum_dim(1) + tf;
                let live = rest.clone().greater_elem(0.0).float()
                    * budget.clone().greater_elem(0.0).float();
                let scale = budget / rest.clamp_min(1e-30) * live;
                // Frames this scale pushes to 1 that are not clipped yet.
                (e.clone() * scale).greater_equal_elem(1.0).float() * free
            };
            for _ in 0..passes {
                clipped = clipped.clone() + scale_of(&clipped);
            }
            let unsettled = scale_of(&clipped).sum_dim(1).greater_elem(0.0).float();
            let n_clipped = clipped.clone().sum_dim(1);
            let budget = (-n_clipped + tf).clamp_min(0.0);
            let free = valid - clipped.clone();
            let effective = (raw + offset) * free;
            let total = effective.clone().sum_dim(1).clamp_min(1e-30); // [B, 1]
            DeviceNormalized {
                score: clipped + effective * budget / total,
                unsettled,
            }
        }
        ScoreNormalization::Reference => {
            let raw = raw * valid;
            let sum = raw.clone().sum_dim(1).clamp_min(1e-30); // [B, 1]
            let s1 = raw / sum * tf;
            let max = s1.clone().max_dim(1); // [B, 1]
            let max_flag = max.clone().detach().greater_equal_elem(1.0).float();
            let s2 = s1 / (max * max_flag.clone() - max_flag.clone() + 1.0);
            let plain = s2.clone().detach();
            let axis = plain.clone().lower_elem(RESCALE_MAX).float()
                * plain.clone().greater_elem(RESCALE_MIN).float();
            let distance = -s2.clone().sum_dim(1) + tf;
            let room = (-s2.clone() + 1.0) * axis;
            let interval = room.clone().sum_dim(1);
            let spread_flag = max_flag
                * distance.clone().detach().greater_equal_elem(1.0).float()
                * interval.clone().detach().greater_elem(0.0).float();
            let alpha = distance / interval.clamp_min(1e-30);
            let capped = alpha.clone().detach().greater_elem(1.0).float();
            let alpha = alpha * (-capped.clone() + 1.0) + capped;
            DeviceNormalized {
                score: s2 + room * alpha * spread_flag,
                unsettled: Tensor::zeros([batch, 1], &device),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_fill_clips_and_sums_to_t() {
        let raw = [0.9, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
        let s = exact_sum(&raw, 4);
        assert!((s.iter().sum::<f64>() - 4.0).abs() < 1e-12);
        assert!(s.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(&s[..2], &[1.0, 1.0]);
        assert!((s[2] - 2.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn all_zero_scores_are_uniform_and_t_at_least_n_keeps_all() {
        assert_eq!(exact_sum(&[0.0; 4], 2), vec![0.5; 4]);
        assert_eq!(exact_sum(&[0.3, 0.2], 2), vec![1.0, 1.0]);
    }

    #[test]
    fn device_matches_host_and_masks_padding() {
        let device = Device::flex();
        let raw = Tensor::<2>::from_data(
            [
                [0.9f32, 0.8, 0.1, 0.2, 0.1, 0.3],
                [0.5, 0.5, 0.5, 0.5, 7.0, 7.0],
            ],
            &device,
        );
        for mode in [ScoreNormalization::ExactSum, ScoreNormalization::Reference] {
            let n = normalize(raw.clone(), 3, &[6, 4], mode);
            let dev = crate::host::read_f32(&n.score);
            for (d, h) in dev.iter().zip(&n.host) {
                assert!((*d as f64 - h).abs() < 1e-6, "{mode:?}: {d} vs {h}");
            }
            assert_eq!(&dev[10..], &[0.0, 0.0]);
            // Every decision on the device: the same scores, nothing unsettled.
            let valid = crate::warp::valid_mask(&[6, 4], 6, &device);
            let d = normalize_device(raw.clone(), 3, valid.clone(), mode, WATER_FILL_PASSES);
            for (d, h) in crate::host::read_f32(&d.score).iter().zip(&n.host) {
                assert!(
                    (*d as f64 - h).abs() < 1e-6,
                    "{mode:?} on the device: {d} vs {h}"
                );
            }
            assert_eq!(crate::host::read_f32(&d.unsettled), vec![0.0, 0.0]);
        }
        // 0.9 clips in the first pass (scale 1.5), 0.6 only in the second (scale 2 / 1.1): one
        // pass leaves the first sample unsettled, two settle it.
        let raw = Tensor::<2>::from_data([[0.9f32, 0.6, 0.2, 0.1, 0.1, 0.1], [0.5; 6]], &device);
        let valid = Tensor::<2>::ones([2, 6], &device);
        let mode = ScoreNormalization::ExactSum;
        for (passes, expected) in [(1, vec![1.0, 0.0]), (2, vec![0.0, 0.0])] {
            let d = normalize_device(raw.clone(), 3, valid.clone(), mode, passes);
            assert_eq!(
                crate::host::read_f32(&d.unsettled),
                expected,
                "{passes} passes"
            );
        }
        let d = normalize_device(raw.clone(), 3, valid, mode, 2);
        let host = exact_sum(&[0.9, 0.6, 0.2, 0.1, 0.1, 0.1], 3);
        for (d, h) in crate::host::read_f32(&d.score).iter().zip(&host) {
            assert!((*d as f64 - h).abs() < 1e-6, "{d} vs {h}");
        }
    }
}
