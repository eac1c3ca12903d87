//! Nominal frame rates for tables and plots.
//!
//! A run's measured output rate depends on how the clip length rounds to frames: a 1-s clip
//! at a 10 ms hop has 101 frames, so keeping a quarter of them gives 25 frames, i.e.
//! 25 / 101 * 100 = 24.75 FPS measured. The paper and a reader say "25 FPS": the *nominal*
//! rate, frames kept per second at the hop, `(1 - reduction) * 1000 / hop_ms`. Tables and plots
//! show the nominal rate; the CSV keeps the measured one next to it.

use crate::results::RunResults;

/// Nominal output frame rate: frames kept per second at the hop,
/// `(1 - reduction) * 1000 / hop_ms` (25 for reduction 0.75 at 10 ms).
pub fn nominal_fps(reduction: f64, hop_ms: f64) -> f64 {
    denoise((1.0 - reduction) * 1000.0 / hop_ms)
}

/// Rounds away float noise (`(1 - 0.9) * 100 = 9.999999999999998` -> 10) while keeping any
/// rate a hop in milliseconds can give (1000 / 16 = 62.5, 1000 / 3 = 333.333333).
fn denoise(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The measured rate rounded for display when nothing better is known: to an integer from
/// 10 FPS on (24.75 -> 25, 49.5 -> 50), else to one decimal.
fn rounded_measured(fps: f64) -> f64 {
    if fps.abs() >= 10.0 {
        fps.round()
    } else {
        (fps * 10.0).round() / 10.0
    }
}

fn positive(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite() && *v > 0.0)
}

impl RunResults {
    /// The nominal output rate of the run (see the [module docs](crate::fps)), from the best
    /// information its `results.json` has:
    ///
    /// 1. `nominal_fps`, when recorded;
    /// 2. else [`nominal_fps`]`(reduction, hop_ms)` when `hop_ms` is recorded;
    /// 3. else the input rate recovered from the measured rate and the frame counts,
    ///    `fps * frames_in / frames_out` (= 1000 / hop_ms exactly), times `1 - reduction`;
    /// 4. else the measured `fps`, rounded (to an integer from 10 FPS on, else one decimal).
    ///
    /// NaN when the measured rate is needed and is not finite.
    pub fn resolved_nominal_fps(&self) -> f64 {
        if let Some(n) = self.nominal_fps.filter(|v| v.is_finite()) {
            return n;
        }
        if self.reduction.is_finite() {
            if let Some(hop) = positive(self.hop_ms) {
                return nominal_fps(self.reduction, hop);
            }
            let frames_in = positive(self.frames_in.map(|f| f as f64));
            let frames_out = positive(self.frames_out.map(|f| f as f64));
            if let (Some(fi), Some(fo)) = (frames_in, frames_out) {
                if self.fps.is_finite() && self.fps > 0.0 {
                    let input_rate = self.fps * fi / fo;
                    return denoise((1.0 - self.reduction) * input_rate);
                }
            }
        }
        if self.fps.is_finite() {
            rounded_measured(self.fps)
        } else {
            f64::NAN
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1-s clip at a 10 ms hop: 101 input frames.
    fn run(reduction: f64, frames_out: usize) -> RunResults {
        RunResults {
            frontend: "avgpool".into(),
            reduction,
            seed: 0,
            fps: frames_out as f64 / 101.0 * 100.0,
            metric: "accuracy".into(),
            test_metric: Some(0.5),
            frames_in: Some(101),
            frames_out: Some(frames_out),
            hop_ms: None,
            nominal_fps: None,
            ..Default::default()
        }
    }

    #[test]
    fn formula() {
        assert_eq!(nominal_fps(0.75, 10.0), 25.0);
        assert_eq!(nominal_fps(0.5, 10.0), 50.0);
        assert_eq!(nominal_fps(0.0, 10.0), 100.0);
        assert_eq!(nominal_fps(0.9, 10.0), 10.0);
        assert_eq!(nominal_fps(0.0, 16.0), 62.5);
        assert_eq!(nominal_fps(0.5, 20.0), 25.0);
    }

    #[test]
    fn resolution_order() {
        // 25 of 101 frames: measured 24.75..., nominal 25 by every route.
        let mut r = run(0.75, 25);
        assert!((r.fps - 24.752475247524753).abs() < 1e-12);
        assert_eq!(r.resolved_nominal_fps(), 25.0, "from the frame counts");
        r.hop_ms = Some(20.0);
        assert_eq!(r.resolved_nominal_fps(), 12.5, "hop_ms wins over frames");
        r.nominal_fps = Some(26.0);
        assert_eq!(r.resolved_nominal_fps(), 26.0, "a recorded value wins");
        // An old results.json with neither hop nor frame counts: rounded measured rate.
        let mut old = run(0.5, 50);
        old.frames_in = None;
        assert!((old.fps - 49.504950495049506).abs() < 1e-12);
        assert_eq!(old.resolved_nominal_fps(), 50.0);
        old.fps = 2.46;
        assert_eq!(old.resolved_nominal_fps(), 2.5);
        old.fps = f64::NAN;
        assert!(old.resolved_nominal_fps().is_nan());
        // The baseline keeps all 101 frames: 100 FPS nominal and measured.
        assert_eq!(run(0.0, 101).resolved_nominal_fps(), 100.0);
        // 0.9 at 10 ms: 10 of 101 frames, 9.90 measured, 10 nominal.
        assert_eq!(run(0.9, 10).resolved_nominal_fps(), 10.0);
    }
}
