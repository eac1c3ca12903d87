//! Segment reductions with correct gradients: the building blocks of an O(T) warp.
//!
//! Sources are the rows of a `[N, F]` tensor; each goes to one of `M` output rows. Sums use an
//! index-add (`select_assign` with `Add`), whose gradient is exact even when many sources share
//! a row. Burn's `Max` update has a wrong gradient for shared rows, so the maximum is taken on
//! detached data, each row's arg-max source is recovered, and the result is a `gather` from the
//! differentiable sources: the gradient then goes to the winning source only, as in PyTorch's
//! `scatter_reduce("amax")`.

use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;

/// `out[m] = sum of values[n] over n with rows[n] == m`.
///
/// # Shapes
/// - `values`: `[N, F]`, `rows`: `N` row indices in `0..m`
/// - output: `[m, F]`
pub fn segment_sum(values: Tensor<2>, rows: &[i64], m: usize) -> Tensor<2> {
    let [n, f] = values.dims();
    debug_assert_eq!(rows.len(), n);
    let device = values.device();
    let index = Tensor::<1, Int>::from_data(TensorData::new(rows.to_vec(), [n]), &device);
    Tensor::<2>::zeros([m, f], &device).select_assign(0, index, values, IndexingUpdateOp::Add)
}

/// `out[m] = max of values[n] over n with rows[n] == m`, or `empty` for a row without sources.
///
/// The gradient flows to the first arg-max source of each output element.
///
/// # Shapes
/// - `values`: `[N, F]`, `rows`: `N` row indices in `0..m`
/// - output: `[m, F]`
pub fn segment_max(values: Tensor<2>, rows: &[i64], m: usize, empty: f32) -> Tensor<2> {
    let [n, f] = values.dims();
    debug_assert_eq!(rows.len(), n);
    let device = values.device();
    let index = Tensor::<1, Int>::from_data(TensorData::new(rows.to_vec(), [n]), &device);
    let plain = values.clone().detach();
    let lowest = Tensor::<2>::full([m, f], f32::NEG_INFINITY, &device);
    // [m, F]: the maximum of each row, on detached data.
    let max = lowest.select_assign(0, index.clone(), plain.clone(), IndexingUpdateOp::Max);
    // [N, F]: is this source its row's maximum?
    let winner = plain.equal(max.select(0, index.clone()));
    // Source ids as floats are exact below 2^24 sources per call; larger inputs are split by the caller.
    let ids = Tensor::<1, Int>::arange(0..n as i64, &device)
        .float()
        .reshape([n, 1])
        .expand([n, f]);
    let none = n as f32;
    let candidates = Tensor::<2>::full([n, f], none, &device).mask_where(winner, ids);
    // [m, F]: first winning source per row, `none` where the row is empty.
    let arg = Tensor::<2>::full([m, f], none, &device).select_assign(
        0,
        index,
        candidates,
        IndexingUpdateOp::Min,
    );
    let is_empty = arg.clone().equal_elem(none);
    let arg = arg.clamp_max((n.max(1) - 1) as f32).int();
    values.gather(0, arg).mask_fill(is_empty, empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(device: &Device) -> Tensor<2> {
        Tensor::<2>::from_data([[1.0, 5.0], [3.0, 2.0], [2.0, 4.0], [7.0, 0.0]], device)
    }

    #[test]
    fn sum_and_max_by_row() {
        let device = Device::flex();
        let rows = [0, 0, 2, 2];
        let sum = segment_sum(values(&device), &rows, 3);
        sum.into_data().assert_eq(
            &TensorData::from([[4.0, 7.0], [0.0, 0.0], [9.0, 4.0]]),
            false,
        );
        let max = segment_max(values(&device), &rows, 3, -1.0);
        max.into_data().assert_eq(
            &TensorData::from([[3.0, 5.0], [-1.0, -1.0], [7.0, 4.0]]),
            false,
        );
    }

    #[test]
    fn max_gradient_goes_to_the_winner_only() {
        let device = Device::flex().autodiff();
        let v = values(&device).require_grad();
        let max = segment_max(v.clone(), &[0, 0, 2, 2], 3, 0.0);
        let grads = max.sum().backward();
        let g = v.grad(&grads).unwrap();
        g.into_data().assert_eq(
            &TensorData::from([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]),
            false,
        );
    }
}
