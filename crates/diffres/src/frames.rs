//! How many frames a front end keeps.

use crate::error::{DiffResError, Result};

/// Output frames `t` for `frames` input frames and dimension reduction rate `delta`.
///
/// `t = floor(T * (1 - delta))`, as in the paper (`delta = (T - t) / T`), but guarded against
/// floating-point error: the reference computes `int(100 * (1 - 0.9)) = 9` because
/// `1 - 0.9 = 0.09999999999999998`; this returns 10. A product within `1e-9` (relative) below
/// an integer counts as that integer.
///
/// # Errors
/// [`DiffResError::DeltaOutOfRange`] when `delta` is not in `[0, 1)` (or not finite), and
/// [`DiffResError::NoOutputFrames`] when the result would be 0.
///
/// ```
/// assert_eq!(diffres::output_frames(100, 0.9).unwrap(), 10);
/// assert_eq!(diffres::output_frames(10, 0.75).unwrap(), 2);
/// assert!(diffres::output_frames(1, 0.5).is_err());
/// ```
pub fn output_frames(frames: usize, delta: f64) -> Result<usize> {
    check_delta(delta)?;
    let exact = frames as f64 * (1.0 - delta);
    let t = (exact + 1e-9 * exact.max(1.0)).floor() as usize;
    let t = t.min(frames);
    if t < 1 {
        return Err(DiffResError::NoOutputFrames { frames, delta, t });
    }
    Ok(t)
}

/// Checks that `delta` is a valid dimension reduction rate in `[0, 1)`.
///
/// # Errors
/// [`DiffResError::DeltaOutOfRange`] otherwise.
pub fn check_delta(delta: f64) -> Result<()> {
    if delta.is_finite() && (0.0..1.0).contains(&delta) {
        Ok(())
    } else {
        Err(DiffResError::DeltaOutOfRange(delta))
    }
}

/// Checks optional per-sample valid lengths against a batch of `batch` clips of `frames` frames
/// and returns them, filled with `frames` when absent.
pub(crate) fn resolve_lengths(
    lengths: Option<&[usize]>,
    batch: usize,
    frames: usize,
) -> Result<Vec<usize>> {
    match lengths {
        None => Ok(vec![frames; batch]),
        Some(l) => {
            if l.len() != batch {
                return Err(DiffResError::Shape {
                    what: "lengths",
                    expected: format!("{batch} valid lengths (one per sample)"),
                    got: vec![l.len()],
                });
            }
            for (sample, &length) in l.iter().enumerate() {
                if length == 0 || length > frames {
                    return Err(DiffResError::BadLength {
                        sample,
                        length,
                        frames,
                    });
                }
            }
            Ok(l.to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_like_the_paper_but_without_float_error() {
        assert_eq!(output_frames(100, 0.9).unwrap(), 10);
        assert_eq!(output_frames(100, 0.75).unwrap(), 25);
        assert_eq!(output_frames(10, 0.75).unwrap(), 2);
        assert_eq!(output_frames(1000, 0.0).unwrap(), 1000);
        assert_eq!(output_frames(11, 0.5).unwrap(), 5);
        assert_eq!(output_frames(1, 0.0).unwrap(), 1);
    }

    #[test]
    fn rejects_bad_delta_and_empty_output() {
        assert_eq!(
            output_frames(10, 1.0),
            Err(DiffResError::DeltaOutOfRange(1.0))
        );
        assert!(output_frames(10, -0.1).is_err());
        assert!(output_frames(10, f64::NAN).is_err());
        assert!(matches!(
            output_frames(3, 0.9),
            Err(DiffResError::NoOutputFrames { t: 0, .. })
        ));
    }

    #[test]
    fn lengths_are_checked() {
        assert_eq!(resolve_lengths(None, 2, 5).unwrap(), vec![5, 5]);
        assert!(resolve_lengths(Some(&[5]), 2, 5).is_err());
        assert!(resolve_lengths(Some(&[0, 5]), 2, 5).is_err());
        assert!(resolve_lengths(Some(&[6, 5]), 2, 5).is_err());
    }
}
