//! # diffres-filterbanks
//!
//! Three learnable audio front ends trained end to end from the waveform, as Burn modules, with
//! the output contract of a log-mel batch (`[B, T, filters]`, `T` frames at `hop` samples):
//!
//! | module | paper | parameters (Table 3 setting) |
//! |---|---|---|
//! | [`TdFbank`] | Zeghidour et al. 2018, time-domain filterbanks | 51,328 = 64 x 2 x 401 |
//! | [`SincNet`] | Ravanelli & Bengio 2018 | 256 = 128 x 2 |
//! | [`Leaf`] | Zeghidour et al. 2021 | 448 = 64 x 7 |
//!
//! ## Conventions
//! - Input: `x: [B, N]` f32 waveform at `sample_rate` (16 kHz by default), any scale (decoded
//!   audio in `[-1, 1]`); `B >= 1`, `N >= 1`. Non-finite samples are not checked (they give
//!   non-finite features).
//! - Filtering: stride-1 convolution with "same" zero padding (`(K - 1) / 2` each side, `K`
//!   odd), kernels centred on their middle tap.
//! - Pooling: stride `hop` (160 = 10 ms), window of `pool_size` taps (401), "same" padding:
//!   **`T = ceil(N / hop)`**, frame `t` centred on sample `t * hop` (`(pool_size - 1) / 2`
//!   zeros on the left, as many as needed on the right). 1 s at 16 kHz gives 100 frames
//!   (the crate `diffres-audio`'s centred log-mel gives `1 + floor(N / hop)` = 101).
//!   Appending zeros to a clip leaves every frame `t` with `t * hop + (pool_size - 1) / 2 < N`
//!   unchanged.
//! - Compression: TD-fbank and SincNet output `ln(energy + log_floor)`, `log_floor = 1e-6`
//!   (silence is `ln(1e-6) = -13.8155`, as the log-mel of `diffres-audio`); the fixed Hann
//!   pooling window has peak 1 (sum 200 at 401 taps) and is not normalised. LEAF outputs
//!   sPCEN values (not a logarithm; with the initial values silence gives
//!   `(1e-5^0.04 + 2)^0.5 - 2^0.5 = 0.2078`, energies being floored at `1e-5`).
//! - Initialisation: HTK mel scale (`2595 log10(1 + hz / 700)`) between `min_freq = 60` and
//!   `max_freq = 7800` Hz, as LEAF. Gabor filters (TD-fbank, LEAF) are centred on the mel
//!   triangles' peaks, with amplitude FWHM equal to that of `sqrt(triangle)` and unit peak
//!   gain; SincNet's bands are the `filters + 1` mel-spaced edges.
//! - Errors are returned, never panicked: [`FilterbankError`] names the bad config field.
//!
//! ## Speed
//! On Burn's flex CPU backend (plain or autodiff) the filtering, squared modulus and strided
//! pooling run as one fused host operation with a hand-written backward pass (overlap-save
//! FFTs for kernels of [`FFT_MIN_TAPS`] taps or more, else a matrix product over a Hankel view
//! of the waveform): about 6-14x faster than the portable Burn path at the Table 3 sizes (crate
//! README). Other backends take the portable path; [`use_host_kernels`] and
//! [`use_host_algorithm`] turn the fast path off or force an algorithm on the calling thread.
//!
//! ## Example
//! ```
//! use burn::prelude::*;
//! use burn::module::Module;
//! use diffres_filterbanks::{LeafConfig, SincNetConfig, TdFbankConfig};
//!
//! let device = Device::flex();
//! // Two 0.1 s clips at 16 kHz.
//! let x = Tensor::<2>::random([2, 1600], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
//!
//! let td = TdFbankConfig::new().init(&device)?;
//! assert_eq!(td.num_params(), 51_328);
//! assert_eq!(td.forward(x.clone())?.dims(), [2, 10, 64]);
//!
//! let sinc = SincNetConfig::new().init(&device)?;
//! assert_eq!(sinc.num_params(), 256);
//! assert_eq!(sinc.forward(x.clone())?.dims(), [2, 10, 128]);
//!
//! let leaf = LeafConfig::new().init(&device)?;
//! assert_eq!(leaf.num_params(), 448);
//! let y = leaf.forward(x)?;
//! assert_eq!(y.dims(), [2, 10, 64]);
//!
//! // Bad configs name the field.
//! let err = TdFbankConfig::new().with_kernel_size(400).init(&device).unwrap_err();
//! assert!(err.to_string().contains("kernel_size"));
//! # Ok::<(), diffres_filterbanks::FilterbankError>(())
//! ```
#![deny(missing_docs)]

pub mod common;
mod cpu;
pub mod error;
pub mod leaf;
pub mod sincnet;
pub mod tdfbank;

pub use common::{
    gabor_params, gabor_sigma_bounds, hann_window, hz_to_mel, mel_points, mel_to_hz, mel_triangles,
    output_frames, MelTriangle,
};
pub use cpu::{use_host_algorithm, use_host_kernels, HostAlgorithm, FFT_MIN_TAPS};
pub use error::{FilterbankError, Result};
pub use leaf::{Leaf, LeafConfig};
pub use sincnet::{SincNet, SincNetConfig};
pub use tdfbank::{TdFbank, TdFbankConfig};
