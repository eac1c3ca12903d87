//! A bounds-checked front for the `gemm` crate's strided single-precision matrix product (the
//! crate Burn flex uses; it picks AVX-512, AVX2+FMA or SSE kernels at run time).
//!
//! Views may overlap themselves: the filtering reads the zero-padded waveform as the Hankel
//! matrix `H[k, j] = x[s + j + k]`, a view with row and column stride 1, so the convolution is
//! one matrix product with no unfolded (im2col) copy.

/// A read-only strided matrix view: element `(i, j)` is `data[offset + i rs + j cs]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f32],
    pub offset: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    pub fn new(data: &'a [f32], offset: usize, rs: usize, cs: usize) -> Self {
        Self {
            data,
            offset,
            rs,
            cs,
        }
    }
}

/// The index of the farthest element of a non-empty `rows x cols` view, in checked arithmetic
/// (it guards the `unsafe` call: an overflow must not wrap to a small index).
fn last_index(offset: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    (rows - 1)
        .checked_mul(rs)
        .zip((cols - 1).checked_mul(cs))
        .and_then(|(a, b)| a.checked_add(b))
        .and_then(|r| r.checked_add(offset))
        .expect("matrix view index overflows usize")
}

fn stride(v: usize) -> isize {
    isize::try_from(v).expect("matrix stride overflows isize")
}

/// `dst (m x n, row stride dst_rs, column stride 1) = [dst +] a (m x k) b (k x n)`, on the
/// calling thread (the callers parallelise over clips and time blocks).
///
/// # Panics
/// When a view reaches outside its slice.
pub(crate) fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    dst_rs: usize,
    a: View<'_>,
    b: View<'_>,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        last_index(0, m, n, dst_rs, 1) < dst.len(),
        "destination out of bounds"
    );
    if k == 0 {
        if !accumulate {
            for row in 0..m {
                dst[row * dst_rs..row * dst_rs + n].fill(0.0);
            }
        }
        return;
    }
    assert!(
        last_index(a.offset, m, k, a.rs, a.cs) < a.data.len(),
        "lhs out of bounds"
    );
    assert!(
        last_index(b.offset, k, n, b.rs, b.cs) < b.data.len(),
        "rhs out of bounds"
    );
    // SAFETY: every element of the three views lies inside its slice (checked above without
    // overflow; strides are non-negative, so the last element is the farthest), the strides
    // fit `isize`, and `dst` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            stride(dst_rs),
            accumulate,
            a.data.as_ptr().add(a.offset),
            stride(a.cs),
            stride(a.rs),
            b.data.as_ptr().add(b.offset),
            stride(b.cs),
            stride(b.rs),
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hankel_view_product_is_a_convolution() {
        // H[k, j] = x[j + k] with row and column stride 1.
        let x: Vec<f32> = (0..10).map(|i| i as f32 * 0.5 - 1.0).collect();
        let w = [1.0f32, -2.0, 0.5];
        let mut y = vec![0.0f32; 8];
        matmul(
            (1, 8, 3),
            &mut y,
            8,
            View::new(&w, 0, 3, 1),
            View::new(&x, 0, 1, 1),
            false,
        );
        for (j, &v) in y.iter().enumerate() {
            let want: f32 = (0..3).map(|k| w[k] * x[j + k]).sum();
            assert!((v - want).abs() < 1e-6, "{j}: {v} vs {want}");
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_view_past_the_end_is_refused() {
        let x = [1.0f32; 4];
        let mut y = vec![0.0f32; 4];
        matmul(
            (1, 4, 2),
            &mut y,
            4,
            View::new(&x, 0, 2, 1),
            View::new(&x, 0, 1, 1),
            false,
        );
    }
}
