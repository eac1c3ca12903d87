//! Decoding audio files (WAV, FLAC, OGG/Vorbis, MP3) to mono `f32` samples with `symphonia`.
//!
//! Untrusted input is checked before anything large is allocated: WAV headers are parsed here
//! (sample rate, channels, declared length) before symphonia sees the file, other containers
//! are checked right after probing, every decoded packet is checked again, the decoded length
//! is bounded by [`DecodeOptions::max_samples`], and a panic inside symphonia becomes an
//! [`AudioError::Decode`] instead of taking the process down.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::panic::AssertUnwindSafe;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{self as sc, CodecType, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::error::{AudioError, FileKind, Result};
use crate::resample::{resample, resampled_len};
use crate::warning::AudioWarning;

/// Lowest sample rate accepted from a file, in Hz. Lower header values are corrupt (0 Hz makes
/// symphonia panic) or would make resampling to 16 kHz enormous (1 Hz: 16,000x upsampling).
pub const MIN_SAMPLE_RATE: u32 = 1_000;
/// Highest sample rate accepted from a file, in Hz (the highest rate in common use; beyond it
/// the resampler's block size, and so its memory, grows with the rate).
pub const MAX_SAMPLE_RATE: u32 = 384_000;
/// Highest channel count accepted from a file.
pub const MAX_CHANNELS: usize = 256;
/// Default bound on decoded mono samples: 2^28, about 4.6 hours at 16 kHz or 1 GiB of `f32`.
pub const MAX_DECODED_SAMPLES: usize = 1 << 28;

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

fn describe(e: &SymError) -> String {
    match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "unexpected end of file (truncated header or data)".to_string()
        }
        SymError::Unsupported(what) => {
            format!("unrecognised or unsupported format ({what})")
        }
        other => other.to_string(),
    }
}

/// A readable name for the codecs a user is likely to meet without a decoder here.
fn codec_name(c: CodecType) -> String {
    let known = [
        (sc::CODEC_TYPE_OPUS, "Opus"),
        (sc::CODEC_TYPE_AAC, "AAC"),
        (sc::CODEC_TYPE_ALAC, "ALAC"),
        (sc::CODEC_TYPE_WAVPACK, "WavPack"),
        (sc::CODEC_TYPE_SPEEX, "Speex"),
        (sc::CODEC_TYPE_ADPCM_MS, "MS ADPCM"),
        (sc::CODEC_TYPE_ADPCM_IMA_WAV, "IMA ADPCM"),
        (sc::CODEC_TYPE_MP1, "MPEG layer I"),
        (sc::CODEC_TYPE_MP2, "MPEG layer II"),
        (sc::CODEC_TYPE_WMA, "WMA"),
        (sc::CODEC_TYPE_EAC3, "E-AC-3"),
    ];
    known
        .iter()
        .find(|(k, _)| *k == c)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| format!("codec id {c}"))
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

pub(crate) fn check_sample_rate(path: &Path, rate: u64) -> Result<()> {
    if (MIN_SAMPLE_RATE as u64..=MAX_SAMPLE_RATE as u64).contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::SampleRate {
            path: path.to_path_buf(),
            rate,
        })
    }
}

fn check_channels(path: &Path, channels: u64) -> Result<()> {
    if (1..=MAX_CHANNELS as u64).contains(&channels) {
        Ok(())
    } else {
        Err(AudioError::Channels {
            path: path.to_path_buf(),
            channels,
        })
    }
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

/// What the RIFF/WAVE header of a file says, read by [`read_wav_header`].
#[derive(Clone, Debug, PartialEq, Eq)]
struct WavHeader {
    /// Format tag; for `WAVE_FORMAT_EXTENSIBLE` the tag of its sub-format GUID.
    format: u16,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    /// Declared size of the data chunk; `None` for `0xFFFF_FFFF`, which streaming writers
    /// (ffmpeg to a pipe) use for "unknown".
    data_len: Option<u64>,
    /// Offset of the first data byte.
    data_offset: u64,
    /// Size of the whole file.
    file_len: u64,
}

const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

impl WavHeader {
    /// Uncompressed formats (PCM, IEEE float, A-law, mu-law) have one frame per block, so the
    /// declared frame count is `data_len / block_align`.
    fn is_uncompressed(&self) -> bool {
        matches!(self.format, 1 | 3 | 6 | 7)
    }

    /// Frames per channel declared by the data chunk, when the format and size make it exact.
    fn declared_frames(&self) -> Option<u64> {
        match self.data_len {
            Some(len) if self.is_uncompressed() && self.block_align > 0 => {
                Some(len / self.block_align as u64)
            }
            _ => None,
        }
    }

    /// Whole frames of the data chunk that are actually in the file.
    fn present_frames(&self) -> u64 {
        let bytes = self.file_len.saturating_sub(self.data_offset);
        let bytes = self.data_len.map_or(bytes, |d| d.min(bytes));
        bytes.checked_div(self.block_align as u64).unwrap_or(0)
    }

    /// Reject what symphonia would panic on, spin on, or allocate without bound for.
    fn validate(&self, path: &Path, opts: &DecodeOptions) -> Result<()> {
        check_sample_rate(path, self.sample_rate as u64)?;
        check_channels(path, self.channels as u64)?;
        if self.is_uncompressed() && self.block_align == 0 {
            return Err(decode_err(path, "WAV fmt chunk has a block align of 0"));
        }
        if let Some(n) = self.declared_frames() {
            if n > opts.max_samples as u64 {
                return Err(AudioError::TooLong {
                    path: path.to_path_buf(),
                    declared: Some(n),
                    limit: opts.max_samples,
                    sample_rate: self.sample_rate,
                });
            }
        }
        Ok(())
    }
}

/// Read into `buf` until it is full or the file ends; the number of bytes read.
fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parse the RIFF/WAVE header of `file` up to the start of the data chunk. `Ok(None)`: not a
/// RIFF/WAVE file (left to symphonia's probe). Only chunk headers and the fmt chunk are read;
/// other chunks are skipped by seeking, so a huge chunk costs nothing. Chunks of odd size are
/// followed by one pad byte (RIFF rule, as symphonia reads them). Every step moves forward by
/// at least 8 bytes, so the loop ends at the end of the file.
fn read_wav_header(path: &Path, file: &mut File, file_len: u64) -> Result<Option<WavHeader>> {
    let io = |e| io_err(path)(e);
    let mut riff = [0u8; 12];
    let n = read_full(file, &mut riff).map_err(io)?;
    if n < 4 || &riff[..4] != b"RIFF" {
        return Ok(None);
    }
    if n < 12 {
        return Err(decode_err(
            path,
            format!("truncated RIFF header: the file is only {file_len} bytes"),
        ));
    }
    if &riff[8..12] != b"WAVE" {
        return Ok(None);
    }
    let mut pos = 12u64;
    let mut fmt: Option<(u16, u16, u32, u16)> = None;
    loop {
        file.seek(SeekFrom::Start(pos)).map_err(io)?;
        let mut head = [0u8; 8];
        if read_full(file, &mut head).map_err(io)? < 8 {
            let missing = if fmt.is_none() { "fmt" } else { "data" };
            return Err(decode_err(
                path,
                format!(
                    "truncated WAV header: no {missing} chunk before the end of the file \
                     ({file_len} bytes)"
                ),
            ));
        }
        let len = le32(&head, 4) as u64;
        match &head[..4] {
            b"fmt " => {
                if len < 16 {
                    return Err(decode_err(
                        path,
                        format!("WAV fmt chunk is {len} bytes, at least 16 are needed"),
                    ));
                }
                let mut body = [0u8; 40];
                let want = len.min(40) as usize;
                if read_full(file, &mut body[..want]).map_err(io)? < want {
                    return Err(decode_err(
                        path,
                        "truncated WAV header: fmt chunk cut short",
                    ));
                }
                let mut format = le16(&body, 0);
                if format == WAVE_FORMAT_EXTENSIBLE && want >= 40 {
                    // The sub-format GUID starts at byte 24; its first field is the tag.
                    format = le16(&body, 24);
                }
                fmt = Some((format, le16(&body, 2), le32(&body, 4), le16(&body, 12)));
            }
            b"data" => {
                let Some((format, channels, sample_rate, block_align)) = fmt else {
                    return Err(decode_err(
                        path,
                        "WAV data chunk comes before the fmt chunk",
                    ));
                };
                return Ok(Some(WavHeader {
                    format,
                    channels,
                    sample_rate,
                    block_align,
                    data_len: (len != u32::MAX as u64).then_some(len),
                    data_offset: pos + 8,
                    file_len,
                }));
            }
            _ => {}
        }
        pos += 8 + len + (len & 1);
    }
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

/// The symphonia part of [`decode_file_with`]; `wav` is the already validated WAV header.
fn decode_stream(
    path: &Path,
    file: File,
    wav: Option<&WavHeader>,
    opts: &DecodeOptions,
) -> Result<DecodedAudio> {
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions {
                enable_gapless: true,
                ..Default::default()
            },
            &MetadataOptions::default(),
        )
        .map_err(|e| match e {
            // A format reader recognised the container but not its encoding (e.g. a WAV
            // format tag without a decoder here).
            SymError::Unsupported(what) if !what.contains("probe") => {
                AudioError::UnsupportedCodec {
                    path: path.to_path_buf(),
                    reason: what.to_string(),
                }
            }
            other => decode_err(path, describe(&other)),
        })?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| decode_err(path, "no audio track found"))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    // Non-WAV containers: check the stream parameters before decoding anything.
    if let Some(rate) = params.sample_rate {
        check_sample_rate(path, rate as u64)?;
    }
    if let Some(ch) = params.channels {
        check_channels(path, ch.count() as u64)?;
    }
    // The declared length is trusted for warnings and limits only where it is exact: the WAV
    // data chunk and FLAC's STREAMINFO. MP3 lengths may be estimates from the bitrate, and
    // Vorbis' granule positions legitimately differ from the decoded length.
    let declared = match wav {
        Some(h) => h.declared_frames(),
        None if params.codec == sc::CODEC_TYPE_FLAC => params.n_frames.filter(|&n| n > 0),
        None => None,
    };
    if let (Some(n), None) = (declared, wav) {
        if n > opts.max_samples as u64 {
            return Err(AudioError::TooLong {
                path: path.to_path_buf(),
                declared: Some(n),
                limit: opts.max_samples,
                sample_rate: params.sample_rate.unwrap_or(0),
            });
        }
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| match e {
            SymError::Unsupported(what) => AudioError::UnsupportedCodec {
                path: path.to_path_buf(),
                reason: format!(
                    "no decoder for {} ({what}); supported: PCM WAV, FLAC, Vorbis, MP3",
                    codec_name(params.codec)
                ),
            },
            other => decode_err(path, describe(&other)),
        })?;

    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.map(|c| c.count()).unwrap_or(0);
    let mut mono: Vec<f32> = Vec::new();
    if let (Some(h), Some(n)) = (wav, declared) {
        // Reserve what the file can actually hold, not what a (possibly lying) header says.
        let present = h.present_frames();
        mono.reserve_exact(n.min(present).min(opts.max_samples as u64) as usize);
    }
    let mut buf: Option<SampleBuffer<f32>> = None;
    let mut decoded_packets = 0usize;
    let mut bad_packets = 0u64;
    let mut last_decode_error = String::new();
    let mut stopped: Option<String> = None;

    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => {
                if decoded_packets > 0 {
                    stopped = Some("the stream parameters change (chained stream); only the first part is decoded".into());
                }
                break;
            }
            Err(e) => {
                // A stream cut short in the middle of a packet: keep what was decoded.
                if decoded_packets > 0 {
                    stopped = Some(describe(&e));
                    break;
                }
                return Err(decode_err(path, describe(&e)));
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(decoded) => {
                decoded_packets += 1;
                let spec = *decoded.spec();
                let ch = spec.channels.count();
                if ch == 0 || decoded.frames() == 0 {
                    continue;
                }
                check_sample_rate(path, spec.rate as u64)?;
                check_channels(path, ch as u64)?;
                if sample_rate != 0 && spec.rate != sample_rate {
                    return Err(decode_err(
                        path,
                        format!(
                            "the sample rate changes mid-stream from {sample_rate} Hz to {} Hz",
                            spec.rate
                        ),
                    ));
                }
                sample_rate = spec.rate;
                channels = ch;
                if mono.len().saturating_add(decoded.frames()) > opts.max_samples {
                    return Err(AudioError::TooLong {
                        path: path.to_path_buf(),
                        declared: None,
                        limit: opts.max_samples,
                        sample_rate,
                    });
                }
                let needed = decoded.capacity() as u64;
                let reuse = matches!(&buf, Some(b) if b.capacity() as u64 >= needed * ch as u64);
                if !reuse {
                    buf = Some(SampleBuffer::<f32>::new(needed, spec));
                }
                let Some(b) = buf.as_mut() else {
                    continue; // unreachable: allocated just above
                };
                b.copy_interleaved_ref(decoded);
                let inter = b.samples();
                if ch == 1 {
                    mono.extend_from_slice(inter);
                } else {
                    let inv = 1.0 / ch as f64;
                    mono.extend(
                        inter
                            .chunks_exact(ch)
                            .map(|fr| (fr.iter().map(|&s| s as f64).sum::<f64>() * inv) as f32),
                    );
                }
            }
            Err(SymError::DecodeError(e)) => {
                // Corrupt packet (common at the start of MP3 streams): skip it.
                bad_packets += 1;
                last_decode_error = e.to_string();
            }
            Err(SymError::IoError(e)) => {
                stopped = Some(format!("read error: {e}"));
                break;
            }
            Err(SymError::Unsupported(what)) => {
                return Err(AudioError::UnsupportedCodec {
                    path: path.to_path_buf(),
                    reason: what.to_string(),
                })
            }
            Err(e) => return Err(decode_err(path, describe(&e))),
        }
    }
    if decoded_packets == 0 && bad_packets > 0 {
        return Err(decode_err(
            path,
            format!(
                "no packet could be decoded ({bad_packets} corrupt; last: {last_decode_error})"
            ),
        ));
    }
    if mono.is_empty() {
        return Err(AudioError::EmptyAudio {
            path: path.to_path_buf(),
        });
    }
    if sample_rate == 0 {
        return Err(decode_err(path, "sample rate unknown or zero"));
    }
    if let Some(index) = first_non_finite(&mono) {
        return Err(AudioError::NonFiniteFile {
            path: path.to_path_buf(),
            index,
        });
    }
    let mut warnings = Vec::new();
    let decoded_frames = mono.len() as u64;
    if let Some(declared_frames) = declared {
        if decoded_frames < declared_frames {
            warnings.push(AudioWarning::Truncated {
                path: path.to_path_buf(),
                declared_frames,
                decoded_frames,
                sample_rate,
            });
        }
    }
    if let Some(reason) = stopped {
        warnings.push(AudioWarning::DecodeStopped {
            path: path.to_path_buf(),
            decoded_frames,
            reason,
        });
    }
    if bad_packets > 0 {
        warnings.push(AudioWarning::CorruptPackets {
            path: path.to_path_buf(),
            skipped: bad_packets,
            last_error: last_decode_error,
        });
    }
    Ok(DecodedAudio {
        samples: mono,
        sample_rate,
        channels,
        warnings,
    })
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

    #[test]
    fn sample_rate_and_channel_bounds() {
        let p = Path::new("x.wav");
        for ok in [1_000u64, 16_000, 44_100, 384_000] {
            assert!(check_sample_rate(p, ok).is_ok(), "{ok}");
        }
        for bad in [0u64, 1, 999, 384_001, u32::MAX as u64] {
            assert!(
                matches!(check_sample_rate(p, bad), Err(AudioError::SampleRate { rate, .. }) if rate == bad),
                "{bad}"
            );
        }
        assert!(check_channels(p, 1).is_ok() && check_channels(p, 256).is_ok());
        assert!(check_channels(p, 0).is_err() && check_channels(p, 257).is_err());
    }
}
