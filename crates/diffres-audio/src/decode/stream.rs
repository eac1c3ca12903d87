//! The symphonia part of decoding: probing, the checks on the stream parameters (including the
//! FLAC STREAMINFO length), and the packet loop that downmixes to mono within the limits.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{self as sc, CodecType, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::limits::{check_channels, check_sample_rate};
use super::wav_header::WavHeader;
use super::{decode_err, first_non_finite, DecodeOptions, DecodedAudio};
use crate::error::{AudioError, Result};
use crate::warning::AudioWarning;

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

/// The symphonia part of [`decode_file_with`](super::decode_file_with); `wav` is the already
/// validated WAV header.
pub(super) fn decode_stream(
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
