//! A bounds-checked front for the `gemm` crate's strided single-precision matrix product.
//!
//! Matrices are views into slices: element `(i, j)` of a view is `data[offset + i * rs + j * cs]`
//! (non-negative strides). `gemm` picks AVX-512, AVX2+FMA or SSE kernels at run time.

use gemm::Parallelism;

/// A read-only strided matrix view.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f32],
    pub offset: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
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

    /// Panics unless every element of a `rows x cols` view lies inside `data`.
    fn check(&self, rows: usize, cols: usize) {
        if rows > 0 && cols > 0 {
            let last = self.offset + (rows - 1) * self.rs + (cols - 1) * self.cs;
            assert!(last < self.data.len(), "matrix view out of bounds");
        }
    }
}

/// A mutable strided matrix view (the destination).
pub(crate) struct ViewMut<'a> {
    pub data: &'a mut [f32],
    pub offset: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> ViewMut<'a> {
    pub fn new(data: &'a mut [f32], offset: usize, rs: usize, cs: usize) -> Self {
        Self {
            data,
            offset,
            rs,
            cs,
        }
    }
}

/// `dst (m x n) = [dst +] a (m x k) · b (k x n)`; `accumulate` keeps `dst`'s values.
///
/// `threads > 1` lets `gemm` split the product over the rayon pool (used when there are fewer
/// samples than threads to parallelise over).
pub(crate) fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: ViewMut<'_>,
    a: View<'_>,
    b: View<'_>,
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    a.check(m, k);
    b.check(k, n);
    {
        let last = dst.offset + (m - 1) * dst.rs + (n - 1) * dst.cs;
        assert!(last < dst.data.len(), "destination view out of bounds");
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst.data[dst.offset + i * dst.rs + j * dst.cs] = 0.0;
                }
            }
        }
        return;
    }
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: the three views were checked to lie inside their slices (all strides are
    // non-negative, so the last element is the farthest), `dst` is borrowed mutably and so
    // aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr().add(dst.offset),
            dst.cs as isize,
            dst.rs as isize,
            accumulate,
            a.data.as_ptr().add(a.offset),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr().add(b.offset),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_product_matches_the_definition() {
        // a: 2x3 stored transposed (column-major), b: 3x2 row-major inside a wider buffer.
        let a = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]; // [[1,2,3],[4,5,6]]
        let b = [0.0, 7.0, 8.0, 0.0, 9.0, 10.0, 0.0, 11.0, 12.0]; // rows at 1, 4, 7
        let mut dst = vec![1.0f32; 4];
        matmul(
            (2, 2, 3),
            ViewMut::new(&mut dst, 0, 2, 1),
            View::new(&a, 0, 1, 2),
            View::new(&b, 1, 3, 1),
            true,
            1,
        );
        // [[1,2,3],[4,5,6]] x [[7,8],[9,10],[11,12]] = [[58,64],[139,154]], plus 1.
        assert_eq!(dst, vec![59.0, 65.0, 140.0, 155.0]);
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_view_past_the_end_is_refused() {
        let a = [1.0f32; 3];
        let mut dst = vec![0.0f32; 4];
        matmul(
            (2, 2, 2),
            ViewMut::new(&mut dst, 0, 2, 1),
            View::new(&a, 0, 2, 1),
            View::new(&a, 0, 2, 1),
            false,
            1,
        );
    }
}
