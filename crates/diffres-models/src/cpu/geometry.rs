//! Sizes of a 2-D convolution over NCHW data, shared by the dense and depthwise kernels.

/// One 2-D convolution's sizes: input `[batch, c_in, h, w]`, weight `[c_out, c_in / groups,
/// kh, kw]`, zero padding `(top, bottom, left, right)`, no dilation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvDims {
    pub batch: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    /// `[rows, columns]`.
    pub stride: [usize; 2],
    /// `[top, bottom, left, right]`.
    pub pad: [usize; 4],
}

impl ConvDims {
    /// Whether the kernel fits the padded input (the output has at least one row and column)
    /// and every size is non-zero.
    pub fn is_valid(&self) -> bool {
        let positive = [
            self.batch, self.c_in, self.c_out, self.h, self.w, self.kh, self.kw,
        ]
        .iter()
        .chain(&self.stride)
        .all(|&n| n > 0);
        positive
            && self.h + self.pad[0] + self.pad[1] >= self.kh
            && self.w + self.pad[2] + self.pad[3] >= self.kw
    }

    /// Output rows.
    pub fn h_out(&self) -> usize {
        (self.h + self.pad[0] + self.pad[1] - self.kh) / self.stride[0] + 1
    }

    /// Output columns.
    pub fn w_out(&self) -> usize {
        (self.w + self.pad[2] + self.pad[3] - self.kw) / self.stride[1] + 1
    }

    /// Values in one input channel's plane.
    pub fn in_plane(&self) -> usize {
        self.h * self.w
    }

    /// Values in one output channel's plane.
    pub fn out_plane(&self) -> usize {
        self.h_out() * self.w_out()
    }

    /// Values in one sample of the input.
    pub fn in_sample(&self) -> usize {
        self.c_in * self.in_plane()
    }

    /// Values in one sample of the output.
    pub fn out_sample(&self) -> usize {
        self.c_out * self.out_plane()
    }

    /// Input row read by output row `oh` at kernel row `i`, if it is not padding.
    pub fn in_row(&self, oh: usize, i: usize) -> Option<usize> {
        (oh * self.stride[0] + i)
            .checked_sub(self.pad[0])
            .filter(|&ih| ih < self.h)
    }

    /// The output columns `lo..hi` whose kernel column `j` reads a real input column (not
    /// padding): `0 <= ow stride + j - left < w`.
    pub fn valid_columns(&self, j: usize) -> (usize, usize) {
        valid_range(self.w_out(), self.stride[1], j, self.pad[2], self.w)
    }
}

/// The outputs `lo..hi` (of `out_len`) for which `o stride + tap - pad` lies in `0..in_len`.
pub(crate) fn valid_range(
    out_len: usize,
    stride: usize,
    tap: usize,
    pad: usize,
    in_len: usize,
) -> (usize, usize) {
    let lo = pad.saturating_sub(tap).div_ceil(stride);
    let hi = (in_len + pad)
        .saturating_sub(tap)
        .div_ceil(stride)
        .min(out_len);
    (lo.min(hi), hi)
}

/// Deterministic test inputs and a closeness check shared by the kernels' tests.
#[cfg(test)]
pub(crate) mod test_support {
    /// `n` values in `[-1, 1]` from a multiplicative hash of the index.
    pub(crate) fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) % 2001) as f32
                    / 1000.0
                    - 1.0
            })
            .collect()
    }

    /// `|a - b| <= 1e-4 (1 + |b|)` element-wise.
    pub(crate) fn close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_range_matches_a_brute_force_scan() {
        for out_len in 1..6 {
            for stride in 1..4 {
                for tap in 0..5 {
                    for pad in 0..4 {
                        for in_len in 1..8 {
                            let inside = |o: usize| {
                                let i = (o * stride + tap) as isize - pad as isize;
                                i >= 0 && (i as usize) < in_len
                            };
                            let (lo, hi) = valid_range(out_len, stride, tap, pad, in_len);
                            for o in 0..out_len {
                                assert_eq!(
                                    inside(o),
                                    (lo..hi).contains(&o),
                                    "{out_len} {stride} {tap} {pad} {in_len} {o}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn output_sizes_follow_the_convolution_formula() {
        let d = ConvDims {
            batch: 1,
            c_in: 1,
            c_out: 1,
            h: 7,
            w: 8,
            kh: 3,
            kw: 5,
            stride: [2, 2],
            pad: [1, 1, 1, 2],
        };
        assert!(d.is_valid());
        assert_eq!((d.h_out(), d.w_out()), (4, 4));
        assert_eq!(d.in_row(0, 0), None);
        assert_eq!(d.in_row(3, 2), None); // row 7 is the bottom padding
        assert_eq!(d.in_row(3, 1), Some(6));
    }
}
