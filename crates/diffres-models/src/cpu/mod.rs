//! Host kernels for the classifiers on Burn's flex CPU backend.
//!
//! The classifiers are written with Burn modules, which run on every backend. On flex, a
//! batch norm is several passes over memory (transposes included) and the backward passes of
//! the depthwise and strided convolutions go through generic transposed convolutions, so the
//! networks ran 3-5x slower than PyTorch on the same CPU. This module computes the dense and
//! depthwise convolutions, the batch norm fused with its activation, EfficientNet's
//! squeeze-excitation, the compact CNN's average pooling and PSLA's attention pooling on the
//! host, with hand-written backward passes registered in Burn's autodiff graph (as the
//! layer's kernels in `diffres::cpu` do).
//!
//! [`crate::layers`] and [`crate::MHeadAttention`] call them when the tensors live on flex
//! (with or without autodiff); any other backend, and the cases the kernels do not cover (a
//! convolution with bias, a projection without one, dilation, other group counts, non-`f32`
//! data), take the Burn modules' own path. Both paths compute the same function: the tests
//! compare outputs, running statistics and every gradient.

pub(crate) mod attention_pool;
pub(crate) mod conv2d;
pub(crate) mod depthwise;
pub(crate) mod geometry;
pub(crate) mod norm_act;
pub(crate) mod ops;
pub(crate) mod pool;
pub(crate) mod squeeze_excite;
#[cfg(test)]
mod tests;

use std::cell::Cell;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether the host kernels are used on this thread (they are unless a test turned them off).
pub(crate) fn enabled() -> bool {
    ENABLED.with(Cell::get)
}

/// Turns the classifiers' flex host kernels on (the default) or off for the calling thread;
/// off, every layer takes the Burn modules' portable path (the same function, slower). For
/// benchmarks and for checking a numerical question against the portable path.
pub fn use_host_kernels(enabled: bool) {
    ENABLED.with(|e| e.set(enabled));
}

/// Runs `f` with the host kernels off on this thread: every layer takes the portable path.
#[cfg(test)]
pub(crate) fn portable<T>(f: impl FnOnce() -> T) -> T {
    let before = ENABLED.with(|e| e.replace(false));
    let out = f();
    ENABLED.with(|e| e.set(before));
    out
}
