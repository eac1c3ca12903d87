//! Decoding audio files (WAV, FLAC, OGG/Vorbis, MP3) to mono `f32` samples with `symphonia`.
//!
//! Untrusted input is checked before anything large is allocated: WAV headers are parsed here
//! (sample rate, channels, declared length) before symphonia sees the file, other containers
//! are checked right after probing, every decoded packet is checked again, the decoded length
//! is bounded by [`DecodeOptions::max_samples`], and a panic inside symphonia becomes an
//! [`AudioError::Decode`] instead of taking the process down.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::panic::AssertUnwindSafe;
use std::path::Path;

use crate::error::{AudioError, FileKind, Result};
use crate::resample::{resample, resampled_len};
use crate::warning::AudioWarning;

// Split by topic (the bounds, the WAV pre-check, the symphonia decode loop); the public items
// are re-exported here so their `diffres_audio::decode::*` paths do not depend on the files.
mod limits;
mod stream;
mod wav_header;

pub use limits::{MAX_CHANNELS, MAX_DECODED_SAMPLES, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};

use stream::decode_stream;
use wav_header::read_wav_header;

/// Options of [`decode_file_with`] and [`load_audio_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Most mono samples a file may decode to (and, in [`load_audio_with`], be resampled to).
    /// A header declaring more is rejected before decoding; a stream found to be longer stops
    /// with [`AudioError::TooLong`]. Default [`MAX_DECODED_SAMPLES`].
    pub max_samples: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_samples: MAX_DECODED_SAMPLES,
        }
    }
}

impl DecodeOptions {
    /// Set [`DecodeOptions::max_samples`].
    pub fn with_max_samples(mut self, max_samples: usize) -> Self {
        self.max_samples = max_samples;
        self
    }
}

/// Decoded audio, downmixed to mono.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedAudio {
    /// Mono samples (mean of the channels), nominally in `[-1, 1]`.
    pub samples: Vec<f32>,
    /// Sample rate of `samples` in Hz (the file's; the target rate after [`load_audio_with`]).
    pub sample_rate: u32,
    /// Number of channels in the file before the downmix.
    pub channels: usize,
    /// Problems that did not stop decoding, e.g. [`AudioWarning::Truncated`]; empty for a
    /// clean file.
    pub warnings: Vec<AudioWarning>,
}

fn decode_err(path: &Path, reason: impl Into<String>) -> AudioError {
    AudioError::Decode {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Index of the first non-finite value, if any.
pub(crate) fn first_non_finite(samples: &[f32]) -> Option<usize> {
    samples.iter().position(|s| !s.is_finite())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AudioError + '_ {
    move |source| AudioError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Metadata of `path`, which must be a regular file (symlinks followed). Only `stat` is used:
/// a FIFO is never opened, since opening one for reading blocks until a writer appears.
pub(crate) fn regular_file_metadata(path: &Path) -> Result<std::fs::Metadata> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(AudioError::NotAFile {
            path: path.to_path_buf(),
            kind: FileKind::of(&meta.file_type()),
        });
    }
    Ok(meta)
}

/// Run `f`, turning a panic (symphonia asserts on some corrupt headers) into a decode error
/// naming the file. `AssertUnwindSafe` is sound here: everything `f` touches is dropped or
/// discarded when it panics.
pub(crate) fn guard_panics<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(decode_err(
            path,
            format!("the decoder panicked ({msg}); the file is probably corrupt"),
        ))
    })
}

/// Decode an audio file to mono `f32` samples at its own sample rate, with the default
/// [`DecodeOptions`]. See [`decode_file_with`].
pub fn decode_file(path: &Path) -> Result<DecodedAudio> {
    decode_file_with(path, &DecodeOptions::default())
}

/// Decode an audio file to mono `f32` samples at its own sample rate.
///
/// Supported: WAV (8/16/24/32-bit integer PCM and 32/64-bit float, also as
/// `WAVE_FORMAT_EXTENSIBLE`), FLAC, OGG/Vorbis and MP3. Multi-channel audio is downmixed to the
/// mean of its channels. Integer PCM is scaled to `[-1, 1)` by `2^(bits-1)` (16-bit:
/// `x / 32768`), as libsndfile/soundfile do.
///
/// Limits, checked before decoding where the header allows it: sample rate
/// [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`], 1..=[`MAX_CHANNELS`] channels, at most
/// `opts.max_samples` mono samples (also enforced while decoding, for every format).
///
/// Warnings (in [`DecodedAudio::warnings`]): a header (WAV data chunk, FLAC STREAMINFO) that
/// declares more samples than the file holds gives [`AudioWarning::Truncated`] with the
/// samples that are there; a stream that ends in an error after some audio gives
/// [`AudioWarning::DecodeStopped`]; skipped corrupt packets give
/// [`AudioWarning::CorruptPackets`].
///
/// Errors (each names the file): missing or unreadable file, a directory, FIFO or device
/// ([`AudioError::NotAFile`], never opened), an empty file, an unrecognised or corrupt
/// container (e.g. a text file renamed `.wav`, a truncated header), an unsupported codec, a
/// sample rate or channel count out of range, audio longer than the limit, zero decoded
/// samples, NaN/inf samples, or a panic inside the decoder.
pub fn decode_file_with(path: &Path, opts: &DecodeOptions) -> Result<DecodedAudio> {
    let meta = regular_file_metadata(path)?;
    if meta.len() == 0 {
        return Err(decode_err(path, "file is empty (0 bytes)"));
    }
    let mut file = File::open(path).map_err(io_err(path))?;
    let wav = read_wav_header(path, &mut file, meta.len())?;
    if let Some(h) = &wav {
        h.validate(path, opts)?;
    }
    file.seek(SeekFrom::Start(0)).map_err(io_err(path))?;
    guard_panics(path, || decode_stream(path, file, wav.as_ref(), opts))
}

/// Decode a file, downmix to mono and resample to `target_hz`, with the default
/// [`DecodeOptions`]; warnings are dropped (use [`load_audio_with`] to see them).
///
/// Rejects zero-length audio and NaN/inf samples with an error naming the file.
pub fn load_audio(path: &Path, target_hz: u32) -> Result<Vec<f32>> {
    load_audio_with(path, target_hz, &DecodeOptions::default()).map(|d| d.samples)
}

/// Decode a file ([`decode_file_with`]), downmix to mono and resample to `target_hz`.
///
/// The result has `sample_rate == target_hz`, the file's channel count and the decode
/// warnings. The resampled length is bounded by `opts.max_samples` too (checked before
/// resampling, so upsampling a long low-rate file cannot allocate without bound).
pub fn load_audio_with(path: &Path, target_hz: u32, opts: &DecodeOptions) -> Result<DecodedAudio> {
    let decoded = decode_file_with(path, opts)?;
    if resampled_len(decoded.samples.len(), decoded.sample_rate, target_hz) > opts.max_samples {
        return Err(AudioError::TooLong {
            path: path.to_path_buf(),
            declared: None,
            limit: opts.max_samples,
            sample_rate: target_hz,
        });
    }
    let out = resample(&decoded.samples, decoded.sample_rate, target_hz).map_err(|e| match e {
        AudioError::Resample(reason) => decode_err(path, format!("resampling failed: {reason}")),
        other => other.with_path(path),
    })?;
    if out.is_empty() {
        return Err(AudioError::EmptyAudio {
            path: path.to_path_buf(),
        });
    }
    Ok(DecodedAudio {
        samples: out,
        sample_rate: target_hz,
        channels: decoded.channels,
        warnings: decoded.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_decode_errors_naming_the_file() {
        let p = Path::new("/data/evil.wav");
        let r: Result<()> = guard_panics(p, || panic!("TimeBase cannot have 0 denominator"));
        let e = r.unwrap_err();
        assert!(matches!(e, AudioError::Decode { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.starts_with("/data/evil.wav: cannot decode audio: the decoder panicked"));
        assert!(msg.contains("TimeBase cannot have 0 denominator"), "{msg}");
        let r: Result<()> = guard_panics(p, || panic!("{} items", 3));
        assert!(r.unwrap_err().to_string().contains("3 items"));
        // No panic: the closure's own result passes through.
        assert_eq!(guard_panics(p, || Ok(7)).unwrap(), 7);
        assert!(matches!(
            guard_panics::<()>(p, || Err(AudioError::EmptySignal)),
            Err(AudioError::EmptySignal)
        ));
    }
}
