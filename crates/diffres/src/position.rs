//! Sinusoidal positional encoding of input frames (the basis of the resolution encoding).

/// The sinusoidal encoding `E [frames][dim]` of Vaswani et al., as the reference builds it:
/// `E[p][2i] = sin(p * exp(-2i ln(10000) / dim))` and `E[p][2i+1] = cos(same)`.
///
/// Works for any `dim`, odd included (the last, unpaired column is a sine). Row-major,
/// computed in `f64` and rounded to `f32`.
///
/// ```
/// let e = diffres::position::sinusoidal(3, 4);
/// assert_eq!(e.len(), 12);
/// assert_eq!(e[0], 0.0); // sin(0)
/// assert_eq!(e[1], 1.0); // cos(0)
/// ```
pub fn sinusoidal(frames: usize, dim: usize) -> Vec<f32> {
    let mut out = vec![0f32; frames * dim];
    let scale = -(10000f64.ln()) / dim as f64;
    for p in 0..frames {
        for c in 0..dim {
            let pair = (c / 2 * 2) as f64;
            let angle = p as f64 * (pair * scale).exp();
            out[p * dim + c] = if c % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn odd_dim_and_known_values() {
        let e = super::sinusoidal(2, 3);
        // p = 1: sin(1), cos(1), sin(1 * 10000^(-2/3))
        assert!((e[3] - 1f64.sin() as f32).abs() < 1e-7);
        assert!((e[4] - 1f64.cos() as f32).abs() < 1e-7);
        let f = 10000f64.powf(-2.0 / 3.0);
        assert!((e[5] - f.sin() as f32).abs() < 1e-7);
    }
}
