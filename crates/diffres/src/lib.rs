//! # diffres
//!
//! DiffRes (Liu et al., "Learning the spectrogram temporal resolution for audio
//! classification") as [Burn](https://burn.dev) modules: a drop-in layer between a log-mel
//! spectrogram and a classifier that scores every time frame, keeps the important ones and
//! merges the rest, so the classifier sees `t = floor(T (1 - delta))` frames instead of `T`.
//! Also here: the paper's fixed-resolution baselines with the same output contract
//! ([`Identity`], [`ChangeHopSize`], [`AvgPool`], AvgMaxPool, [`ConvAvgPool`]) and a
//! [`FrontEnd`] enum that selects any of them by name.
//!
//! ## Conventions
//! - Input: natural-log mel spectrogram `x: [B, T, F]` (batch, frames, mel bins), optional
//!   per-sample valid lengths.
//! - Output ([`FrontEndOutput`]): `feature: [B, C, t, F]` (`C = 3` for DiffRes: mean and max
//!   aggregation in the log domain, then the resolution encoding; `C = 1` for baselines),
//!   `score: [B, T]`, `guide_loss` and `activeness` as `[1]` tensors.
//! - The warp never builds the dense `t × T` matrix: O(B·T·F) time and memory ([`warp()`]).
//! - Errors are returned, never panicked: see [`DiffResError`].
//!
//! ## Example
//! ```
//! use burn::prelude::*;
//! use diffres::{DiffResConfig, FrontEndConfig, FrontEndKind};
//!
//! let device = Device::flex();
//! // 2 clips, 100 frames, 64 mel bins; keep 25% of the frames.
//! let x = Tensor::<3>::random([2, 100, 64], burn::tensor::Distribution::Normal(-5.0, 2.0), &device);
//! let layer = DiffResConfig::new(64).with_delta(0.75).init(&device)?;
//! let out = layer.forward(x.clone(), None)?;
//! assert_eq!(out.feature.dims(), [2, 3, 25, 64]);
//! let loss_term: f32 = out.guide_loss.into_scalar();
//! assert!(loss_term.is_finite());
//!
//! // Any baseline by name, same contract.
//! let pool = FrontEndConfig::new("avgpool".parse::<FrontEndKind>()?, 64).with_delta(0.75).init(&device)?;
//! assert_eq!(pool.forward(x, None)?.feature.dims(), [2, 1, 25, 64]);
//! # Ok::<(), diffres::DiffResError>(())
//! ```
#![deny(missing_docs)]
// The crate has four `unsafe` blocks (the `gemm` call in `cpu/matmul.rs`, `mallopt` in
// `memory.rs`, the two target-feature calls in `kernel_support.rs`), each with a `// SAFETY:`
// comment; an `unsafe fn` body gets no implicit licence.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod ablation;
pub mod baselines;
mod constants;
mod cpu;
pub mod error;
mod frames;
pub mod frontend;
pub mod host;
pub mod importance;
pub mod kernel_support;
pub mod layer;
mod memory;
pub mod output;
mod params;
pub mod position;
pub mod regularizers;
pub mod score_norm;
pub mod segment;
pub mod warp;

pub use ablation::{Aggregation, FeatureChannels, WarpKind};
pub use baselines::{AvgPool, ChangeHopSize, ConvAvgPool, ConvAvgPoolConfig, Identity};
pub use constants::{DEFAULT_EMPTY_EPS, DEFAULT_GUIDE_LAMBDA};
pub use error::{DiffResError, Result};
pub use frames::{check_delta, output_frames};
pub use frontend::{FrontEnd, FrontEndConfig, FrontEndKind};
pub use host::host_reads;
pub use importance::{
    check_dilation, ImportanceNet, ImportanceNetConfig, ResConv1d, ResConv1dConfig,
    MAX_DILATION_GROWTH,
};
pub use layer::{DiffRes, DiffResConfig, ResolutionEncoding};
pub use memory::{keep_freed_memory, release_freed_memory};
pub use output::FrontEndOutput;
pub use params::trainable_params;
pub use score_norm::ScoreNormalization;
pub use warp::{warp, WarpPlan, Warped};

/// The README's code examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
