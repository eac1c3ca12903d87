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
//! # Untrusted input: limits, options, warnings
//!
//! Any file may be hostile; decoding never panics, hangs or allocates without bound:
//!
//! * Sample rate must be in [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`] (1 kHz to 384 kHz) and
//!   the channel count in 1..=[`MAX_CHANNELS`] ([`AudioError::SampleRate`],
//!   [`AudioError::Channels`]). WAV headers are parsed by this crate (fmt and data chunks,
//!   odd-size chunk padding, `WAVE_FORMAT_EXTENSIBLE`, truncated headers) before symphonia
//!   sees the file; other containers are checked right after probing, and every decoded
//!   packet again. [`resample()`] accepts only rates in the same range, which bounds its
//!   block size (and memory) for any pair of rates.
//! * Length is bounded by [`DecodeOptions::max_samples`] (default [`MAX_DECODED_SAMPLES`] =
//!   2^28 mono samples, ~4.6 h at 16 kHz, 1 GiB of `f32`): a header declaring more (WAV data
//!   chunk, FLAC STREAMINFO) is rejected before decoding, the decode loop stops any stream
//!   that grows past it, and [`load_audio_with`] also bounds the resampled length
//!   ([`AudioError::TooLong`]: "longer than the limit of N samples (H hours at R Hz)").
//!   [`decode_file`] and [`load_audio`] use the defaults; [`decode_file_with`],
//!   [`load_audio_with`] and [`FeatureExtractor::with_decode_options`] take options.
//! * A panic inside symphonia is caught and returned as [`AudioError::Decode`] naming the file
//!   (the default panic hook may still print it to stderr).
//! * Paths that are not regular files are rejected from `stat` alone, saying what they are
//!   ([`AudioError::NotAFile`] with a [`FileKind`]: directory, FIFO, device, socket); a FIFO
//!   is never opened.
//! * Non-fatal problems are [`AudioWarning`]s, carried in [`DecodedAudio::warnings`] and
//!   [`Features::warnings`]; their `Display` names the file. A header that declares more
//!   samples than the file holds gives [`AudioWarning::Truncated`] (what is there is decoded);
//!   a stream that fails after some audio gives [`AudioWarning::DecodeStopped`]; skipped
//!   corrupt packets give [`AudioWarning::CorruptPackets`]; a cache entry that cannot be
//!   written gives [`AudioWarning::CacheNotWritable`] (the features are still returned).
//! * Errors print each cause once: [`AudioError::Io`]'s message does not repeat its
//!   `source()`, so `anyhow`-style chains read "clip.wav: cannot read file: No such file or
//!   directory (os error 2)".
//!
//! # Feature cache
//!
//! `<cache_dir>/<key>.mel`, format version [`CACHE_VERSION`] = 2: magic, version, frames,
//! n_mels, the SHA-256 of the payload, then the payload (the `f32` log-mel and the decode
//! warnings, so a cache hit reports the same warnings as the first extraction). The full
//! layout is in the [`FeatureExtractor`] docs. A damaged entry is recomputed and overwritten
//! ([`FeatureExtractor::cache_repairs`]); version 1 entries have other keys and are simply
//! recomputed. A cache directory that cannot be created disables the cache
//! ([`FeatureExtractor::cache_warning`]) and an unwritable one costs only a warning: a cache
//! never drops a clip. Temporary files `.<entry>.<pid>.<n>.tmp` are removed when a write
//! fails; one left by a killed process is harmless and may be deleted.
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
//! use diffres_audio::{FeatureExtractor, FeatureConfig, LogMel, LogMelConfig};
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
//! let cfg = FeatureConfig {
//!     log_mel: LogMelConfig::default().with_hop_ms(1.0),
//!     frames: Some(100),
//!     ..Default::default()
//! };
//! let fx = FeatureExtractor::new(cfg, None).unwrap();
//! let f = fx.extract_samples(&tone[..800]).unwrap();
//! assert_eq!((f.spec.frames, f.valid_frames), (100, 51));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cache;
pub mod decode;
pub mod error;
pub mod features;
pub mod kaldi;
mod kaldi_torch_ln;
pub mod mel;
pub mod resample;
pub mod spectrogram;
pub mod warning;

pub use decode::{
    decode_file, decode_file_with, load_audio, load_audio_with, DecodeOptions, DecodedAudio,
    MAX_CHANNELS, MAX_DECODED_SAMPLES, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE,
};
pub use error::{AudioError, FileKind, Result};
pub use features::{
    FeatureConfig, FeatureExtractor, Features, CACHE_HEADER_LEN, CACHE_MAGIC, CACHE_VERSION,
};
pub use kaldi::{hann_symmetric, kaldi_filterbank, kaldi_mel_f32, KaldiFbank, KaldiFbankConfig};
pub use mel::{
    hann_periodic, mel_band_edges, mel_filterbank, LogMel, LogMelConfig, LogMelSpec, MelNorm,
    MelScale, PadMode,
};
pub use resample::{resample, resampled_len};
pub use spectrogram::{FeatureKind, Normalization};
pub use warning::AudioWarning;
