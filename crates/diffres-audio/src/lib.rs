//! Audio front end for DiffRes: decoding, resampling and log-mel features.
//!
//! * [`decode_file`] decodes WAV (8/16/24/32-bit integer, 32/64-bit float), FLAC, OGG/Vorbis
//!   and MP3 with `symphonia` and downmixes to mono (mean of the channels).
//! * [`resample()`] converts the sample rate with `rubato`'s FFT resampler; [`load_audio`] does
//!   decode + mono + resample and rejects empty audio and NaN/inf samples.
//! * [`LogMel`] computes mel / log-mel spectrograms exactly like
//!   `librosa.feature.melspectrogram` (and float64 torchaudio `MelSpectrogram`).
//! * [`FeatureExtractor`] turns files into fixed- or variable-length features, in parallel
//!   (rayon) with an on-disk cache.
//!
//! # Conventions
//!
//! * Layout `[frames][n_mels]`, row-major (`spec.data[t * n_mels + m]`).
//! * Frame `t` is centred on sample `t * hop` (`center = true`, padding `n_fft / 2` each side,
//!   reflect by default); frame count `1 + floor(N / hop)`. Any non-empty input works, even a
//!   single sample (numpy reflect semantics; see [`PadMode::Reflect`]).
//! * Window: periodic Hann of `win_length` samples, zero-padded and centred in `n_fft`
//!   (librosa's `pad_center`). No FFT normalisation; power spectrum `|X|^2` by default.
//! * Log: natural log, `ln(mel + log_floor)` with `log_floor = 1e-6`; silence is
//!   `ln(1e-6) = -13.8155...`, which is also the pad value of [`LogMelSpec::fit_frames`] used by
//!   the extractor.
//! * Window, FFT, power spectrum and filterbank are computed in f64 and the result is returned
//!   as f32; the power mel matches the librosa golden vectors to about 1e-12 relative before
//!   the cast. The final `ln` is taken in f32 on the f64 sum (about 5e-7 absolute error).
//!
//! # Example
//!
//! ```
//! use diffres_audio::{FeatureExtractor, FrontEndConfig, LogMel, LogMelConfig};
//!
//! // 0.25 s of a 440 Hz tone at 16 kHz.
//! let sr = 16_000;
//! let tone: Vec<f32> = (0..4000)
//!     .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / sr as f32).sin())
//!     .collect();
//!
//! // Default: 25 ms window, 10 ms hop, 128 HTK mels, ln(mel + 1e-6).
//! let mel = LogMel::new(LogMelConfig::default()).unwrap();
//! let spec = mel.log_mel(&tone).unwrap();
//! assert_eq!(spec.frames, 1 + 4000 / 160);
//! assert_eq!(spec.frame(0).len(), 128);
//!
//! // 1 ms hop, fixed 100 frames (padded with silence).
//! let cfg = FrontEndConfig {
//!     log_mel: LogMelConfig::default().with_hop_ms(1.0),
//!     frames: Some(100),
//! };
//! let fx = FeatureExtractor::new(cfg, None).unwrap();
//! let f = fx.extract_samples(&tone[..800]).unwrap();
//! assert_eq!((f.spec.frames, f.valid_frames), (100, 51));
//! ```
#![deny(missing_docs)]

pub mod decode;
pub mod error;
pub mod features;
pub mod mel;
pub mod resample;

pub use decode::{decode_file, load_audio, DecodedAudio};
pub use error::{AudioError, Result};
pub use features::{FeatureExtractor, Features, FrontEndConfig, CACHE_MAGIC, CACHE_VERSION};
pub use mel::{
    hann_periodic, mel_band_edges, mel_filterbank, LogMel, LogMelConfig, LogMelSpec, MelNorm,
    MelScale, PadMode,
};
pub use resample::{resample, resampled_len};
