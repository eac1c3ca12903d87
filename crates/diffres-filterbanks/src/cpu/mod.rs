//! Host kernels for Burn's flex CPU backend.
//!
//! The front ends are written with Burn tensor operations, which run on every backend. On
//! flex, their hot spot, the stride-1 convolution of the waveform with hundreds of 401-tap
//! kernels, goes through Burn's generic `conv1d` (an unfolded copy of the input, then a matrix
//! product), keeps the `[B, C, N]` filter output for the backward pass, and its backward
//! pass and that of the strided pooling convolution run well below the machine's speed.
//! This module fuses filtering, squared modulus and strided pooling into one host operation
//! with a hand-written backward pass registered in Burn's autodiff graph (as the layer's
//! kernels in `diffres::cpu` do, sharing their flex conversions, matrix product and run-time
//! SIMD selection from `diffres::kernel_support`). The filtering is either a matrix product over a Hankel view
//! of the waveform or overlap-save FFTs, chosen by kernel length ([`HostAlgorithm`]).
//!
//! [`crate::common`] calls it when the tensors live on flex (with or without autodiff); any
//! other backend and non-`f32` data take the portable path. Both paths compute the same
//! function: the tests compare outputs and every parameter gradient.

mod fft;
mod filter;
pub(crate) mod kernel;
pub(crate) mod op;

pub use filter::{HostAlgorithm, FFT_MIN_TAPS};

use std::cell::Cell;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(true) };
    static ALGORITHM: Cell<HostAlgorithm> = const { Cell::new(HostAlgorithm::Auto) };
}

/// The filtering algorithm of the host kernels on this thread.
pub(crate) fn algorithm() -> HostAlgorithm {
    ALGORITHM.with(Cell::get)
}

/// Chooses how the host kernels filter on the calling thread ([`HostAlgorithm::Auto`], the
/// default, is the measured choice); for benchmarks and tests. The backward pass uses the
/// forward pass's choice.
pub fn use_host_algorithm(algorithm: HostAlgorithm) {
    ALGORITHM.with(|a| a.set(algorithm));
}

/// Whether the host kernels are used on this thread.
pub(crate) fn enabled() -> bool {
    ENABLED.with(Cell::get)
}

/// Turns the front ends' flex host kernels on (the default) or off for the calling thread;
/// off, every front end takes the portable Burn path (the same function, slower). For
/// benchmarks and for checking a numerical question against the portable path.
pub fn use_host_kernels(enabled: bool) {
    ENABLED.with(|e| e.set(enabled));
}

#[cfg(test)]
mod tests;
