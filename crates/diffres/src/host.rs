//! Reading tensors back to the host: the project's one way to do it, counted.
//!
//! On a GPU every read waits for the queued work to finish, so the layer's portable path (every
//! backend but flex) reads once per forward: one `[B, 2]` tensor of per-sample flags (non-finite
//! input, unsettled water-filling). [`host_reads`] counts the reads so that tests can hold the
//! code to that.

use std::cell::Cell;

use burn::prelude::*;

thread_local! {
    static READS: Cell<u64> = const { Cell::new(0) };
}

/// How many tensors this crate has read back to the host on the calling thread so far (every
/// backend; on flex a read is a copy, on a GPU it waits for the device).
///
/// ```
/// use burn::prelude::*;
/// let device = Device::flex();
/// let x = Tensor::<3>::ones([1, 20, 8], &device);
/// let layer = diffres::DiffResConfig::new(8).init(&device)?;
/// let before = diffres::host_reads();
/// layer.forward(x, None)?;
/// assert!(diffres::host_reads() > before); // flex plans the warp on the host
/// # Ok::<(), diffres::DiffResError>(())
/// ```
pub fn host_reads() -> u64 {
    READS.with(Cell::get)
}

/// The values of a float tensor as `f32`, row-major, counted in [`host_reads`]. Every read of
/// this crate goes through here, and so do the training loop's; a read failure is a backend
/// bug.
pub fn read_f32<const D: usize>(tensor: &Tensor<D>) -> Vec<f32> {
    READS.with(|reads| reads.set(reads.get() + 1));
    tensor
        .to_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("a float tensor converts to f32")
}
