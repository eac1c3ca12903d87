//! Decoding audio files (WAV, FLAC, OGG/Vorbis, MP3) to mono `f32` samples with `symphonia`.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{self as sc, CodecType, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::error::{AudioError, Result};
use crate::resample::resample;

/// Decoded audio, downmixed to mono.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedAudio {
    /// Mono samples (mean of the channels), nominally in `[-1, 1]`.
    pub samples: Vec<f32>,
    /// Sample rate of the file in Hz.
    pub sample_rate: u32,
    /// Number of channels in the file before the downmix.
    pub channels: usize,
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

/// Decode an audio file to mono `f32` samples at its own sample rate.
///
/// Supported: WAV (8/16/24/32-bit integer PCM and 32/64-bit float), FLAC, OGG/Vorbis and MP3.
/// Multi-channel audio is downmixed to the mean of its channels. Integer PCM is scaled to
/// `[-1, 1)` by `2^(bits-1)` (16-bit: `x / 32768`), as libsndfile/soundfile do.
///
/// Errors (each names the file): missing or unreadable file, a directory, an empty file, an
/// unrecognised or corrupt container (e.g. a text file renamed `.wav`, a truncated header), an
/// unsupported codec, zero decoded samples, or NaN/inf samples.
pub fn decode_file(path: &Path) -> Result<DecodedAudio> {
    let meta = std::fs::metadata(path).map_err(|source| AudioError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(AudioError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() == 0 {
        return Err(decode_err(path, "file is empty (0 bytes)"));
    }
    let file = File::open(path).map_err(|source| AudioError::Io {
        path: path.to_path_buf(),
        source,
    })?;
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
    let mut buf: Option<SampleBuffer<f32>> = None;
    let mut decoded_packets = 0usize;
    let mut bad_packets = 0usize;
    let mut last_decode_error = String::new();

    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => {
                // A stream cut short in the middle of a packet: keep what was decoded.
                if decoded_packets > 0 {
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
                if ch == 0 {
                    continue;
                }
                sample_rate = spec.rate;
                channels = ch;
                let needed = decoded.capacity() as u64;
                let reuse = matches!(&buf, Some(b) if b.capacity() as u64 >= needed * ch as u64);
                if !reuse {
                    buf = Some(SampleBuffer::<f32>::new(needed, spec));
                }
                let b = buf.as_mut().expect("buffer allocated above");
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
            Err(SymError::IoError(_)) => break,
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
    Ok(DecodedAudio {
        samples: mono,
        sample_rate,
        channels,
    })
}

/// Decode a file, downmix to mono and resample to `target_hz`.
///
/// Rejects zero-length audio and NaN/inf samples with an error naming the file.
pub fn load_audio(path: &Path, target_hz: u32) -> Result<Vec<f32>> {
    let decoded = decode_file(path)?;
    let out = resample(&decoded.samples, decoded.sample_rate, target_hz).map_err(|e| match e {
        AudioError::Resample(reason) => decode_err(path, format!("resampling failed: {reason}")),
        other => other.with_path(path),
    })?;
    if out.is_empty() {
        return Err(AudioError::EmptyAudio {
            path: path.to_path_buf(),
        });
    }
    Ok(out)
}
