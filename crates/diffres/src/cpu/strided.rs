//! A read-only view of a rank-3 `f32` tensor with any non-negative strides.

/// Element `(a, b, c)` is `data[offset + a strides[0] + b strides[1] + c strides[2]]`.
#[derive(Clone, Copy)]
pub(crate) struct Strided3<'a> {
    pub data: &'a [f32],
    pub offset: usize,
    pub strides: [usize; 3],
}

impl<'a> Strided3<'a> {
    /// A contiguous `[_, d1, d2]` buffer.
    pub fn contiguous(data: &'a [f32], d1: usize, d2: usize) -> Self {
        Self {
            data,
            offset: 0,
            strides: [d1 * d2, d2, 1],
        }
    }

    /// Elements `(a, b, 0..len)` as a slice, when the last dimension is contiguous.
    pub fn row_slice(&self, a: usize, b: usize, len: usize) -> Option<&'a [f32]> {
        let start = self.offset + a * self.strides[0] + b * self.strides[1];
        (self.strides[2] == 1).then(|| &self.data[start..start + len])
    }

    /// Elements `(a, b, 0..out.len())` into `out`.
    pub fn row(&self, a: usize, b: usize, out: &mut [f32]) {
        let start = self.offset + a * self.strides[0] + b * self.strides[1];
        if self.strides[2] == 1 {
            out.copy_from_slice(&self.data[start..start + out.len()]);
        } else {
            for (c, o) in out.iter_mut().enumerate() {
                *o = self.data[start + c * self.strides[2]];
            }
        }
    }
}
