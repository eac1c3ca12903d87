//! The pieces of the layer's host kernels that the workspace's other kernels reuse (the
//! classifiers' convolutions and batch norms in `diffres-models`): telling whether a tensor
//! lives on Burn's flex backend, a vectorisable `exp`, moving values between Burn tensors and host slices, autodiff
//! strategies, and the bounds-checked strided matrix product over the `gemm` crate.
//!
//! This is plumbing for kernels, not part of the layer's API: it follows the layer's kernels
//! and may change with them.

pub use crate::cpu::fastmath::exp;
pub use crate::cpu::flex::{
    flex_kind, flex_tensor, host, plain, plain_tensor, AdTensor, FlexKind, Strategy,
};
pub use crate::cpu::matmul::{matmul, View, ViewMut};

use burn::nn::BatchNorm;
use burn::prelude::*;

/// One batch norm over the channels as plain data for a kernel,
/// `y = gamma (a - mean) / sqrt(var + epsilon) + beta`.
pub struct NormParams {
    /// `[C]`.
    pub gamma: Tensor<1>,
    /// `[C]`.
    pub beta: Tensor<1>,
    /// `[C]`, the mean used for inference.
    pub running_mean: Tensor<1>,
    /// `[C]`, the variance used for inference.
    pub running_var: Tensor<1>,
    /// Added to the variance.
    pub epsilon: f64,
    /// Whether the norm trains: batch statistics, on an autodiff device (the kernels use
    /// running statistics on a plain device whatever this says, as `BatchNorm` does).
    pub training: bool,
}

impl NormParams {
    /// The tensors and settings of `norm`.
    pub fn of(norm: &BatchNorm) -> Self {
        Self {
            gamma: norm.gamma.val(),
            beta: norm.beta.val(),
            running_mean: norm.running_mean.value(),
            running_var: norm.running_var.value(),
            epsilon: norm.epsilon,
            training: norm.training.is_enabled(),
        }
    }
}

/// `running = (1 - momentum) running + momentum batch` for a batch norm whose forward pass a
/// host kernel computed (with the batch's `mean` and biased `var`), as Burn's `BatchNorm`
/// updates its own.
pub fn update_running_stats(norm: &BatchNorm, mean: &[f32], var: &[f32]) {
    let blend = |state: &burn::module::RunningState<Tensor<1>>, batch: &[f32]| {
        let old = state.value_sync();
        let device = old.device();
        let m = norm.momentum;
        let new: Vec<f32> = crate::host::read_f32(&old)
            .iter()
            .zip(batch)
            .map(|(&o, &b)| (o as f64 * (1.0 - m) + b as f64 * m) as f32)
            .collect();
        let len = new.len();
        state.update(Tensor::from_data(TensorData::new(new, [len]), &device));
    };
    blend(&norm.running_mean, mean);
    blend(&norm.running_var, var);
}

/// The instruction set [`vectorized`] compiles its loops for on this CPU and build:
/// `"avx512"` (with the `avx512` feature, on by default, where the CPU has AVX-512F),
/// `"avx2"` (AVX2 + FMA) or `"baseline"`. The GEMM follows the same choice.
pub fn simd_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if cfg!(feature = "avx512") && std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "avx2";
        }
    }
    "baseline"
}

/// Runs `f` compiled for AVX-512 (with the `avx512` feature) or for AVX2 + FMA when this CPU
/// has them (checked at run time), else for the baseline target: the workspace is built for
/// plain x86-64, so loops the compiler vectorises would otherwise use 4-wide SSE. `f` should
/// be a small closure that calls `#[inline(always)]` loops, so that they are compiled inside
/// the selected target. Call it inside each parallel task: rayon's workers run baseline code.
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[cfg(feature = "avx512")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (and so AVX2 and FMA), checked just above.
            return unsafe { with_avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            return unsafe { with_avx2(f) };
        }
    }
    f()
}

/// `f()` compiled with AVX-512.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `f()` compiled with AVX2 and FMA.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
