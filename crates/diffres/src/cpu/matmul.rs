//! A bounds-checked front for the `gemm` crate's strided single-precision matrix product.
//!
//! Matrices are views into slices: element `(i, j)` of a view is `data[offset + i * rs + j * cs]`
//! (non-negative strides). `gemm` picks AVX-512, AVX2+FMA or SSE kernels at run time.

use gemm::Parallelism;

/// A read-only strided matrix view.
#[derive(Clone, Copy)]
pub struct View<'a> {
    /// The values.
    pub data: &'a [f32],
    /// Index of element `(0, 0)`.
    pub offset: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A view of `data` starting at `offset` with row stride `rs` and column stride `cs`.
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
            let last = last_index(self.offset, (rows, cols), (self.rs, self.cs), "matrix");
            assert!(last < self.data.len(), "matrix view out of bounds");
        }
    }
}

/// `offset + (rows - 1) rs + (cols - 1) cs`, the index of the farthest element of a non-empty
/// view (strides are non-negative), in checked arithmetic: it guards the `unsafe` call to
/// `gemm`, so an overflow must not wrap to a small index that passes the bounds check.
///
/// # Panics
/// On overflow, naming the view (`what`) and its geometry.
fn last_index(
    offset: usize,
    (rows, cols): (usize, usize),
    (rs, cs): (usize, usize),
    what: &str,
) -> usize {
    debug_assert!(rows > 0 && cols > 0);
    (rows - 1)
        .checked_mul(rs)
        .zip((cols - 1).checked_mul(cs))
        .and_then(|(down, across)| down.checked_add(across))
        .and_then(|reach| reach.checked_add(offset))
        .unwrap_or_else(|| {
            panic!(
                "{what} view out of bounds: the last index of a {rows} x {cols} view at offset \
                 {offset} with strides ({rs}, {cs}) overflows usize"
            )
        })
}

/// A stride as `gemm` takes it.
///
/// # Panics
/// When it does not fit an `isize` (no in-bounds view of more than one row or column has
/// such a stride).
fn stride(value: usize) -> isize {
    isize::try_from(value).unwrap_or_else(|_| panic!("matrix stride {value} overflows isize"))
}

/// A mutable strided matrix view (the destination).
pub struct ViewMut<'a> {
    /// The values.
    pub data: &'a mut [f32],
    /// Index of element `(0, 0)`.
    pub offset: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a> ViewMut<'a> {
    /// A view of `data` starting at `offset` with row stride `rs` and column stride `cs`.
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
pub fn matmul(
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
        let last = last_index(dst.offset, (m, n), (dst.rs, dst.cs), "destination");
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
    let (dst_cs, dst_rs) = (stride(dst.cs), stride(dst.rs));
    let (a_cs, a_rs) = (stride(a.cs), stride(a.rs));
    let (b_cs, b_rs) = (stride(b.cs), stride(b.rs));
    // SAFETY: the three views were checked to lie inside their slices, with the index of
    // their last element computed without overflow (all strides are non-negative, so the
    // last element is the farthest; the offsets are at most that index, so the `add`s stay
    // inside the slices), the strides fit `isize`, and `dst` is borrowed mutably and so
    // aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr().add(dst.offset),
            dst_cs,
            dst_rs,
            accumulate,
            a.data.as_ptr().add(a.offset),
            a_cs,
            a_rs,
            b.data.as_ptr().add(b.offset),
            b_cs,
            b_rs,
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

    #[test]
    #[should_panic(expected = "overflows usize")]
    fn an_overflowing_view_is_refused_rather_than_wrapped() {
        let a = [1.0f32; 4];
        let mut dst = vec![0.0f32; 4];
        // (2 - 1) * usize::MAX would wrap to a small index without checked arithmetic.
        matmul(
            (2, 2, 2),
            ViewMut::new(&mut dst, 0, 2, 1),
            View::new(&a, 1, usize::MAX, 1),
            View::new(&a, 0, 2, 1),
            false,
            1,
        );
    }

    #[test]
    #[should_panic(expected = "destination view out of bounds")]
    fn an_overflowing_destination_is_refused() {
        let a = [1.0f32; 4];
        let mut dst = vec![0.0f32; 4];
        matmul(
            (2, 2, 2),
            ViewMut::new(&mut dst, usize::MAX, 2, 1),
            View::new(&a, 0, 2, 1),
            View::new(&a, 0, 2, 1),
            false,
            1,
        );
    }
}
