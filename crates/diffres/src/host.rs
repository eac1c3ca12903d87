//! Reading small tensors back to the host.

use burn::prelude::*;

/// The values of a float tensor as `f32`, row-major. Used for the few per-sample quantities
/// the warp plans on the host (scores, maxima, sums); a read failure is a backend bug.
pub(crate) fn read_f32<const D: usize>(tensor: &Tensor<D>) -> Vec<f32> {
    tensor
        .to_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("a float tensor converts to f32")
}
