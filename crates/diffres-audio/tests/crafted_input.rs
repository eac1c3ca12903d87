//! Hostile, crafted input: lying WAV headers, absurd sample rates and channel counts, lengths
//! beyond the decode limit, special files, and a damaged or unwritable feature cache. Every
//! case must give a clear error or warning naming the file, quickly, with bounded memory.

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use diffres_audio::{
    decode_file, decode_file_with, load_audio, load_audio_with, resample, resampled_len,
    AudioError, AudioWarning, DecodeOptions, FeatureConfig, FeatureExtractor, FileKind,
    CACHE_HEADER_LEN, CACHE_MAGIC, MAX_CHANNELS, MAX_DECODED_SAMPLES, MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().to_string()
}

/// Run `f` on another thread and fail (instead of hanging the suite) if it takes longer than
/// `secs`. The bugs fixed here include a decode that never ended.
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what}: did not finish within {secs} s"))
}

/// A RIFF/WAVE file builder where every header field can lie.
#[derive(Clone, Debug)]
struct Wav {
    /// Format tag: 1 integer PCM, 3 IEEE float, 0xFFFE `WAVE_FORMAT_EXTENSIBLE`.
    format: u16,
    /// Sub-format tag written into the GUID when `format` is extensible.
    sub_format: u16,
    channels: u16,
    sample_rate: u32,
    bits: u16,
    /// `None`: `channels * bits / 8`.
    block_align: Option<u16>,
    /// Chunks written between "WAVE" and "fmt " (odd sizes get their pad byte).
    before_fmt: Vec<([u8; 4], Vec<u8>)>,
    /// Chunks written between "fmt " and "data".
    before_data: Vec<([u8; 4], Vec<u8>)>,
    /// Size the data chunk header declares; `None`: the payload's size.
    data_declared: Option<u32>,
    /// Size the RIFF header declares; `None`: consistent with the declared chunk sizes.
    riff_declared: Option<u32>,
    /// The data bytes actually written.
    payload: Vec<u8>,
}

impl Wav {
    /// 16-bit mono PCM at `sr` holding `samples`.
    fn pcm16(sr: u32, samples: &[i16]) -> Self {
        Wav {
            format: 1,
            sub_format: 1,
            channels: 1,
            sample_rate: sr,
            bits: 16,
            block_align: None,
            before_fmt: Vec::new(),
            before_data: Vec::new(),
            data_declared: None,
            riff_declared: None,
            payload: samples.iter().flat_map(|s| s.to_le_bytes()).collect(),
        }
    }

    fn channels(mut self, ch: u16) -> Self {
        self.channels = ch;
        self
    }

    fn declared(mut self, data_len: u32) -> Self {
        self.data_declared = Some(data_len);
        self
    }

    fn extensible(mut self) -> Self {
        self.sub_format = self.format;
        self.format = 0xFFFE;
        self
    }

    fn chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
        out.extend_from_slice(id);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(0);
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let block = self
            .block_align
            .unwrap_or((self.channels as u32 * self.bits as u32 / 8) as u16);
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&self.format.to_le_bytes());
        fmt.extend_from_slice(&self.channels.to_le_bytes());
        fmt.extend_from_slice(&self.sample_rate.to_le_bytes());
        fmt.extend_from_slice(&self.sample_rate.wrapping_mul(block as u32).to_le_bytes());
        fmt.extend_from_slice(&block.to_le_bytes());
        fmt.extend_from_slice(&self.bits.to_le_bytes());
        if self.format == 0xFFFE {
            fmt.extend_from_slice(&22u16.to_le_bytes()); // cbSize
            fmt.extend_from_slice(&self.bits.to_le_bytes()); // valid bits
            fmt.extend_from_slice(&0u32.to_le_bytes()); // channel mask
            fmt.extend_from_slice(&(self.sub_format as u32).to_le_bytes());
            // The rest of KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT.
            fmt.extend_from_slice(&[
                0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
            ]);
        }
        let mut body = Vec::new();
        body.extend_from_slice(b"WAVE");
        for (id, c) in &self.before_fmt {
            Self::chunk(&mut body, id, c);
        }
        Self::chunk(&mut body, b"fmt ", &fmt);
        for (id, c) in &self.before_data {
            Self::chunk(&mut body, id, c);
        }
        let declared = self.data_declared.unwrap_or(self.payload.len() as u32);
        body.extend_from_slice(b"data");
        body.extend_from_slice(&declared.to_le_bytes());
        let riff = self
            .riff_declared
            .unwrap_or_else(|| (body.len() as u64 + declared as u64).min(u32::MAX as u64) as u32);
        body.extend_from_slice(&self.payload);
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&riff.to_le_bytes());
        out.extend_from_slice(&body);
        out
    }
}

/// `n` samples of a 16-bit ramp with known values.
fn ramp(n: usize) -> Vec<i16> {
    (0..n).map(|i| ((i * 37) % 2000) as i16 - 1000).collect()
}

fn as_f32(s: &[i16]) -> Vec<f32> {
    s.iter().map(|&v| v as f32 / 32768.0).collect()
}

fn sine_i16(f: f64, sr: u32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| (16384.0 * (2.0 * std::f64::consts::PI * f * i as f64 / sr as f64).sin()) as i16)
        .collect()
}

/// Max |error| of `y` (at `sr`) against `0.5 sin(2 pi f t)` away from the edges.
fn interior_sine_error(y: &[f32], f: f64, sr: u32) -> f32 {
    let (a, b) = (y.len() / 10, y.len() * 9 / 10);
    (a..b)
        .map(|j| {
            let want = 0.5 * (2.0 * std::f64::consts::PI * f * j as f64 / sr as f64).sin();
            (y[j] as f64 - want).abs() as f32
        })
        .fold(0.0, f32::max)
}

#[test]
fn limits_are_the_documented_values() {
    assert_eq!(
        (MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, MAX_CHANNELS),
        (1_000, 384_000, 256)
    );
    assert_eq!(MAX_DECODED_SAMPLES, 1 << 28);
    assert_eq!(DecodeOptions::default().max_samples, MAX_DECODED_SAMPLES);
    assert_eq!(DecodeOptions::default().with_max_samples(5).max_samples, 5);
}

#[test]
fn absurd_sample_rates_are_rejected_before_decoding() {
    let t = tempfile::tempdir().unwrap();
    // 0 Hz panicked in symphonia; 1 Hz took 23 s and 6.3 GB; 4,294,967,295 Hz never ended.
    for rate in [0u32, 1, 999, 384_001, 1_000_000, u32::MAX] {
        // The extension does not matter: RIFF is recognised by its magic.
        for ext in ["wav", "bin"] {
            let p = write(
                t.path(),
                &format!("rate_{rate}.{ext}"),
                &Wav::pcm16(rate, &ramp(1600)).bytes(),
            );
            let q = p.clone();
            let (e, e2) = within(10, &format!("{rate} Hz"), move || {
                (
                    decode_file(&q).unwrap_err(),
                    load_audio(&q, 16_000).unwrap_err(),
                )
            });
            match &e {
                AudioError::SampleRate { rate: r, path } => {
                    assert_eq!((*r, path), (rate as u64, &p))
                }
                other => panic!("{rate} Hz: {other:?}"),
            }
            assert!(matches!(e2, AudioError::SampleRate { .. }), "{e2:?}");
            let msg = e.to_string();
            assert!(msg.contains(&name_of(&p)), "{msg}");
            assert!(
                msg.contains(&format!(
                    "sample rate {rate} Hz is outside the supported range"
                )),
                "{msg}"
            );
        }
    }
    // Junk before "RIFF": symphonia's probe scans ahead and finds the WAV, which our header
    // check (RIFF at offset 0) does not see. The checks after probing and the panic guard
    // must still stop it.
    for rate in [0u32, 1, u32::MAX] {
        let mut bytes = vec![0u8; 3];
        bytes.extend_from_slice(&Wav::pcm16(rate, &ramp(1600)).bytes());
        let p = write(t.path(), &format!("junk_then_{rate}.wav"), &bytes);
        let e = within(10, &format!("junk + {rate} Hz"), move || {
            decode_file(&p).unwrap_err()
        });
        if rate == 0 {
            // symphonia panics building its time base before we see the track: the panic
            // guard turns that into an error naming the file.
            assert!(matches!(e, AudioError::Decode { .. }), "{e:?}");
            assert!(e.to_string().contains("decoder panicked"), "{e}");
            assert!(e.to_string().contains("junk_then_0.wav"), "{e}");
        } else {
            assert!(
                matches!(e, AudioError::SampleRate { rate: r, .. } if r == rate as u64),
                "{e:?}"
            );
        }
    }
    // The same with WAVE_FORMAT_EXTENSIBLE, and behind odd-sized chunks that need padding.
    let mut w = Wav::pcm16(0, &ramp(100)).extensible();
    w.before_fmt.push((*b"JUNK", vec![1, 2, 3]));
    w.before_data
        .push((*b"LIST", b"INFOIART\x01\0\0\0x".to_vec()));
    let p = write(t.path(), "ext_0hz.wav", &w.bytes());
    let e = within(10, "extensible 0 Hz", move || decode_file(&p).unwrap_err());
    assert!(matches!(e, AudioError::SampleRate { rate: 0, .. }), "{e:?}");
}

#[test]
fn sample_rates_at_the_edges_decode_and_resample() {
    let t = tempfile::tempdir().unwrap();
    // (rate, tone Hz, samples): the range ends, and 383,999 Hz, coprime with 16 kHz, which
    // gives the resampler its largest block.
    for (rate, f, n) in [
        (MIN_SAMPLE_RATE, 100.0, 1000),
        (MAX_SAMPLE_RATE, 1000.0, 38_400),
        (383_999, 1000.0, 38_400),
    ] {
        let s = sine_i16(f, rate, n);
        let p = write(
            t.path(),
            &format!("edge_{rate}.wav"),
            &Wav::pcm16(rate, &s).bytes(),
        );
        let d = decode_file(&p).unwrap();
        assert_eq!((d.sample_rate, d.channels), (rate, 1));
        assert_eq!(d.samples, as_f32(&s));
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let q = p.clone();
        let y = within(30, &format!("resample {rate}"), move || {
            load_audio_with(&q, 16_000, &DecodeOptions::default()).unwrap()
        });
        assert_eq!(y.sample_rate, 16_000);
        assert_eq!(y.samples.len(), resampled_len(n, rate, 16_000));
        let err = interior_sine_error(&y.samples, f, 16_000);
        assert!(err < 2e-3, "{rate} Hz: interior error {err}");
    }
}

#[test]
fn extensible_and_padded_chunks_decode_exactly() {
    let t = tempfile::tempdir().unwrap();
    let s = ramp(501);
    let mut w = Wav::pcm16(16_000, &s).extensible();
    w.before_fmt.push((*b"JUNK", vec![7; 5]));
    w.before_data.push((*b"odd ", vec![9]));
    let p = write(t.path(), "ext.wav", &w.bytes());
    let d = decode_file(&p).unwrap();
    assert_eq!(d.samples, as_f32(&s));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    // A chunk that claims gigabytes the file does not have: an error, not a hang or a big
    // allocation (it is skipped by seeking, then the header ends without a data chunk).
    let mut w = Wav::pcm16(16_000, &s);
    w.before_fmt.push((*b"JUNK", Vec::new()));
    let mut bytes = w.bytes();
    bytes[16..20].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
    let p = write(t.path(), "huge_junk.wav", &bytes);
    let e = within(10, "huge chunk", move || decode_file(&p).unwrap_err());
    assert!(matches!(e, AudioError::Decode { .. }), "{e:?}");
    assert!(e.to_string().contains("no fmt chunk"), "{e}");
}

#[test]
fn truncated_headers_are_decode_errors() {
    let t = tempfile::tempdir().unwrap();
    let full = Wav::pcm16(16_000, &ramp(100)).bytes();
    assert_eq!(full.len(), 44 + 200);
    for cut in 1..44 {
        let p = write(t.path(), &format!("cut_{cut}.wav"), &full[..cut]);
        let e = decode_file(&p).unwrap_err();
        assert!(matches!(e, AudioError::Decode { .. }), "cut {cut}: {e:?}");
        assert!(e.to_string().contains(&name_of(&p)), "{e}");
    }
    // Header complete, no payload at all: nothing to decode.
    let p = write(t.path(), "cut_44.wav", &full[..44]);
    let e = decode_file(&p).unwrap_err();
    assert!(matches!(e, AudioError::EmptyAudio { .. }), "{e:?}");
    // A data chunk before any fmt chunk.
    let mut bad = b"RIFF\x10\0\0\0WAVEdata\x04\0\0\0".to_vec();
    bad.extend_from_slice(&[0; 4]);
    let p = write(t.path(), "data_first.wav", &bad);
    let e = decode_file(&p).unwrap_err();
    assert!(e.to_string().contains("before the fmt chunk"), "{e}");
    // A fmt chunk too short to hold the format.
    let mut w = Wav::pcm16(16_000, &ramp(4)).bytes();
    w[16..20].copy_from_slice(&8u32.to_le_bytes());
    let p = write(t.path(), "short_fmt.wav", &w);
    let e = decode_file(&p).unwrap_err();
    assert!(e.to_string().contains("fmt chunk is 8 bytes"), "{e}");
    // Block align 0 would make every frame count a division by zero.
    let mut w = Wav::pcm16(16_000, &ramp(4));
    w.block_align = Some(0);
    let p = write(t.path(), "align0.wav", &w.bytes());
    let e = decode_file(&p).unwrap_err();
    assert!(e.to_string().contains("block align of 0"), "{e}");
}

#[test]
fn channel_counts_out_of_range_are_rejected() {
    let t = tempfile::tempdir().unwrap();
    for ch in [0u16, 257, 300, u16::MAX] {
        let p = write(
            t.path(),
            &format!("ch_{ch}.wav"),
            &Wav::pcm16(16_000, &ramp(600)).channels(ch).bytes(),
        );
        let e = decode_file(&p).unwrap_err();
        match &e {
            AudioError::Channels { channels, .. } => assert_eq!(*channels, ch as u64),
            other => panic!("{ch} channels: {other:?}"),
        }
        assert!(e.to_string().contains(&name_of(&p)), "{e}");
        assert!(
            e.to_string()
                .contains("outside the supported range 1..=256"),
            "{e}"
        );
    }
    // Two channels: the mean, exactly.
    let s = ramp(600);
    let p = write(
        t.path(),
        "ch_2.wav",
        &Wav::pcm16(16_000, &s).channels(2).bytes(),
    );
    let d = decode_file(&p).unwrap();
    assert_eq!(d.channels, 2);
    let want: Vec<f32> = s
        .chunks_exact(2)
        .map(|c| ((c[0] as f64 / 32768.0 + c[1] as f64 / 32768.0) / 2.0) as f32)
        .collect();
    assert_eq!(d.samples, want);
}

#[test]
fn declared_longer_than_the_file_is_a_warning() {
    let t = tempfile::tempdir().unwrap();
    let s = ramp(1600);
    // Header: 10 s (160,000 frames); payload: 0.1 s.
    let p = write(
        t.path(),
        "says_10s.wav",
        &Wav::pcm16(16_000, &s).declared(320_000).bytes(),
    );
    let d = decode_file(&p).unwrap();
    assert_eq!(d.samples, as_f32(&s));
    assert_eq!(
        d.warnings,
        vec![AudioWarning::Truncated {
            path: p.clone(),
            declared_frames: 160_000,
            decoded_frames: 1600,
            sample_rate: 16_000,
        }]
    );
    let msg = d.warnings[0].to_string();
    assert!(msg.starts_with(&p.display().to_string()), "{msg}");
    assert!(msg.contains("10.000 s") && msg.contains("0.100 s"), "{msg}");
    assert_eq!(d.warnings[0].path(), p.as_path());
    // load_audio_with keeps the warning; the exact file has none.
    let l = load_audio_with(&p, 8_000, &DecodeOptions::default()).unwrap();
    assert_eq!((l.samples.len(), l.warnings.len()), (800, 1));
    let ok = write(t.path(), "exact.wav", &Wav::pcm16(16_000, &s).bytes());
    assert!(decode_file(&ok).unwrap().warnings.is_empty());
    // Every fixture is clean: no spurious warnings.
    for name in [
        "tone_u8.wav",
        "tone_s16.wav",
        "tone_s24.wav",
        "tone_s32.wav",
        "tone_f32.wav",
        "tone_f64.wav",
        "tone_s16.flac",
        "tone.ogg",
        "tone.mp3",
        "stereo_s16.wav",
        "stereo.ogg",
    ] {
        let d = decode_file(&fixture(name)).unwrap();
        assert!(d.warnings.is_empty(), "{name}: {:?}", d.warnings);
    }
}

#[test]
fn declared_length_over_the_limit_is_rejected_before_allocation() {
    let t = tempfile::tempdir().unwrap();
    // 2^30 - 1 frames declared, 100 present: rejected from the header, at once.
    let p = write(
        t.path(),
        "says_18h.wav",
        &Wav::pcm16(16_000, &ramp(100)).declared(0x7FFF_FFFE).bytes(),
    );
    let q = p.clone();
    let e = within(10, "huge declared size", move || {
        decode_file(&q).unwrap_err()
    });
    match &e {
        AudioError::TooLong {
            declared, limit, ..
        } => assert_eq!(
            (*declared, *limit),
            (Some(0x3FFF_FFFF), MAX_DECODED_SAMPLES)
        ),
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains(&name_of(&p)), "{msg}");
    assert!(
        msg.contains("longer than the limit of 268435456 samples (4.66 hours at 16000 Hz)"),
        "{msg}"
    );
    // A configured limit below an honest header.
    let opts = DecodeOptions::default().with_max_samples(1000);
    let e = decode_file_with(&fixture("tone_s16.wav"), &opts).unwrap_err();
    assert!(
        matches!(
            e,
            AudioError::TooLong {
                declared: Some(1600),
                limit: 1000,
                sample_rate: 16_000,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("(0.06 s at 16000 Hz)"), "{e}");
    // FLAC's STREAMINFO length is exact, so it is checked before decoding too.
    let e = decode_file_with(&fixture("tone_s16.flac"), &opts).unwrap_err();
    assert!(
        matches!(
            e,
            AudioError::TooLong {
                declared: Some(1600),
                ..
            }
        ),
        "{e:?}"
    );
    // The limit is inclusive.
    let d = decode_file_with(
        &fixture("tone_s16.wav"),
        &opts.clone().with_max_samples(1600),
    );
    assert_eq!(d.unwrap().samples.len(), 1600);
}

#[test]
fn decode_loop_enforces_the_limit_when_the_length_is_unknown() {
    let t = tempfile::tempdir().unwrap();
    let s = ramp(1600);
    // ffmpeg writing to a pipe: RIFF and data sizes 0xFFFFFFFF ("unknown").
    let mut w = Wav::pcm16(16_000, &s).declared(u32::MAX);
    w.riff_declared = Some(u32::MAX);
    let p = write(t.path(), "stream.wav", &w.bytes());
    let d = decode_file(&p).unwrap();
    assert_eq!(d.samples, as_f32(&s));
    assert!(
        d.warnings.is_empty(),
        "unknown size is not truncation: {:?}",
        d.warnings
    );
    let opts = DecodeOptions::default().with_max_samples(1000);
    let e = decode_file_with(&p, &opts).unwrap_err();
    assert!(
        matches!(
            e,
            AudioError::TooLong {
                declared: None,
                limit: 1000,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("audio is longer than the limit of 1000 samples"),
        "{e}"
    );
    // Formats whose header length is not trusted stop in the decode loop.
    for name in ["tone.mp3", "tone.ogg", "stereo.ogg"] {
        let e = decode_file_with(&fixture(name), &opts).unwrap_err();
        assert!(
            matches!(
                e,
                AudioError::TooLong {
                    declared: None,
                    limit: 1000,
                    sample_rate: 16_000,
                    ..
                }
            ),
            "{name}: {e:?}"
        );
    }
    // The extractor applies its decode options.
    let fx = FeatureExtractor::new(FeatureConfig::default(), None)
        .unwrap()
        .with_decode_options(opts);
    assert!(matches!(
        fx.extract(&fixture("tone_s16.wav")),
        Err(AudioError::TooLong { .. })
    ));
}

#[test]
fn resampled_length_is_bounded_too() {
    let t = tempfile::tempdir().unwrap();
    let p = write(t.path(), "8k.wav", &Wav::pcm16(8_000, &ramp(800)).bytes());
    let opts = DecodeOptions::default().with_max_samples(1000);
    // 800 samples decode within the limit, but 16 kHz would make 1600.
    assert_eq!(decode_file_with(&p, &opts).unwrap().samples.len(), 800);
    let e = load_audio_with(&p, 16_000, &opts).unwrap_err();
    assert!(
        matches!(
            e,
            AudioError::TooLong {
                declared: None,
                limit: 1000,
                sample_rate: 16_000,
                ..
            }
        ),
        "{e:?}"
    );
    let ok = load_audio_with(&p, 16_000, &DecodeOptions::default()).unwrap();
    assert_eq!(
        (ok.samples.len(), ok.sample_rate, ok.channels),
        (1600, 16_000, 1)
    );
    // resample() itself refuses rates outside the range (whose block sizes explode).
    assert!(matches!(
        resample(&[0.0; 8], 1, 16_000),
        Err(AudioError::Resample(_))
    ));
    assert!(matches!(
        resample(&[0.0; 8], u32::MAX, 16_000),
        Err(AudioError::Resample(_))
    ));
}

fn crc8(bytes: &[u8]) -> u8 {
    let mut c = 0u8;
    for &b in bytes {
        c ^= b;
        for _ in 0..8 {
            c = if c & 0x80 != 0 {
                (c << 1) ^ 0x07
            } else {
                c << 1
            };
        }
    }
    c
}

fn crc16(bytes: &[u8]) -> u16 {
    let mut c = 0u16;
    for &b in bytes {
        c ^= (b as u16) << 8;
        for _ in 0..8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x8005
            } else {
                c << 1
            };
        }
    }
    c
}

/// A minimal 16-bit mono FLAC: STREAMINFO declaring `rate` and `total` samples, then one
/// fixed-size frame of `block` samples per value in `values`, each a CONSTANT subframe.
/// Frames take rate and sample size from STREAMINFO (codes 0), so any rate is accepted by the
/// demuxer and only our checks decide.
fn flac(rate: u32, total: u64, block: u16, values: &[i16]) -> Vec<u8> {
    let mut b = b"fLaC".to_vec();
    b.extend_from_slice(&[0x80, 0, 0, 34]); // last block, STREAMINFO, 34 bytes
    b.extend_from_slice(&block.to_be_bytes()); // min block size
    b.extend_from_slice(&block.to_be_bytes()); // max block size
    b.extend_from_slice(&[0; 6]); // min / max frame size: unknown
    let packed = ((rate as u64) << 44) | (15 << 36) | (total & 0xF_FFFF_FFFF);
    b.extend_from_slice(&packed.to_be_bytes()); // rate, 1 channel, 16 bits, total samples
    b.extend_from_slice(&[0; 16]); // MD5: unknown
    for (n, v) in values.iter().enumerate() {
        assert!(n < 128, "one-byte frame numbers only");
        // Sync + fixed blocking; block size in 16 bits after the header (code 7) and the
        // sample rate from STREAMINFO (code 0); mono, sample size from STREAMINFO.
        let mut f = vec![0xFF, 0xF8, 0x70, 0x00, n as u8];
        f.extend_from_slice(&(block - 1).to_be_bytes());
        f.push(crc8(&f));
        f.push(0x00); // CONSTANT subframe, no wasted bits
        f.extend_from_slice(&v.to_be_bytes());
        let crc = crc16(&f);
        f.extend_from_slice(&crc.to_be_bytes());
        b.extend_from_slice(&f);
    }
    b
}

#[test]
fn flac_streaminfo_is_checked_after_probing() {
    let t = tempfile::tempdir().unwrap();
    // The builder makes valid FLAC: two constant frames decode exactly.
    let p = write(t.path(), "ok.flac", &flac(16_000, 512, 256, &[1000, -2000]));
    let d = decode_file(&p).unwrap();
    assert_eq!(d.sample_rate, 16_000);
    let mut want = vec![1000.0f32 / 32768.0; 256];
    want.extend(vec![-2000.0f32 / 32768.0; 256]);
    assert_eq!(d.samples, want);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    // Rates the demuxer accepts (FLAC allows up to 655,350 Hz) but we do not.
    for rate in [1u32, 999, 384_001, 500_000, 655_350] {
        let p = write(
            t.path(),
            &format!("r{rate}.flac"),
            &flac(rate, 512, 256, &[1, 2]),
        );
        let e = decode_file(&p).unwrap_err();
        assert!(
            matches!(e, AudioError::SampleRate { rate: r, .. } if r == rate as u64),
            "{rate}: {e:?}"
        );
        assert!(e.to_string().contains(&name_of(&p)), "{e}");
    }
    // Declares 1024 samples, holds 512: decoded, with a warning.
    let p = write(t.path(), "long.flac", &flac(16_000, 1024, 256, &[5, 6]));
    let d = decode_file(&p).unwrap();
    assert_eq!(d.samples.len(), 512);
    assert_eq!(
        d.warnings,
        vec![AudioWarning::Truncated {
            path: p.clone(),
            declared_frames: 1024,
            decoded_frames: 512,
            sample_rate: 16_000
        }]
    );
    // Declares 2^34 samples: rejected before decoding.
    let p = write(t.path(), "huge.flac", &flac(16_000, 1 << 34, 256, &[5]));
    let e = decode_file(&p).unwrap_err();
    assert!(
        matches!(e, AudioError::TooLong { declared: Some(n), .. } if n == 1 << 34),
        "{e:?}"
    );
    // Total 0 means "unknown" in FLAC: no warning, the decode loop bounds it.
    let p = write(t.path(), "unknown.flac", &flac(16_000, 0, 256, &[5, 6, 7]));
    let d = decode_file(&p).unwrap();
    assert_eq!((d.samples.len(), d.warnings.len()), (768, 0));
    let e = decode_file_with(&p, &DecodeOptions::default().with_max_samples(600)).unwrap_err();
    assert!(
        matches!(
            e,
            AudioError::TooLong {
                declared: None,
                limit: 600,
                ..
            }
        ),
        "{e:?}"
    );
}

/// `p` is rejected as `kind` by every entry point, with the message `"<path>: <text>"`.
fn check_not_a_file(fx: &FeatureExtractor, p: &Path, kind: FileKind, text: &str) {
    let e = decode_file(p).unwrap_err();
    assert!(
        matches!(&e, AudioError::NotAFile { kind: k, .. } if *k == kind),
        "{}: {e:?}",
        p.display()
    );
    assert_eq!(e.to_string(), format!("{}: {text}", p.display()));
    assert!(matches!(
        fx.extract(p),
        Err(AudioError::NotAFile { kind: k, .. }) if k == kind
    ));
    assert!(matches!(
        load_audio(p, 16_000),
        Err(AudioError::NotAFile { .. })
    ));
}

#[test]
fn special_files_say_what_they_are_and_are_never_opened() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("c");
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(cache.clone())).unwrap();
    let dir = t.path().join("folder.wav");
    std::fs::create_dir(&dir).unwrap();
    check_not_a_file(&fx, &dir, FileKind::Directory, "is a directory");
    let zero = Path::new("/dev/zero");
    if zero.exists() {
        check_not_a_file(&fx, zero, FileKind::CharDevice, "is a character device");
    } else {
        println!("skipping /dev/zero: it does not exist here");
    }
    let fifo = t.path().join("pipe.wav");
    match std::process::Command::new("mkfifo").arg(&fifo).status() {
        Ok(s) if s.success() => {
            // Opening a FIFO for reading blocks forever without a writer: a hang here means
            // it was opened.
            within(10, "FIFO", move || {
                let fx = FeatureExtractor::new(FeatureConfig::default(), Some(cache)).unwrap();
                check_not_a_file(&fx, &fifo, FileKind::Fifo, "is a named pipe (FIFO)");
            });
        }
        other => println!("skipping the FIFO case: mkfifo unavailable ({other:?})"),
    }
}

#[test]
fn io_error_chain_names_each_cause_once() {
    let p = PathBuf::from("/nonexistent-dir-for-diffres/clip.wav");
    let e = decode_file(&p).unwrap_err();
    let source = e.source().expect("Io errors keep the OS error as source");
    let own = e.to_string();
    assert_eq!(
        own,
        "/nonexistent-dir-for-diffres/clip.wav: cannot read file"
    );
    assert!(!own.contains(&source.to_string()));
    // What `anyhow` prints with `{:#}`: every message of the chain, joined by ": ".
    let mut chain = vec![own];
    let mut cur: &dyn std::error::Error = &e;
    while let Some(s) = cur.source() {
        chain.push(s.to_string());
        cur = s;
    }
    let line = chain.join(": ");
    assert_eq!(
        line.matches("No such file or directory").count(),
        1,
        "{line}"
    );
}

// ---------------------------------------------------------------- feature cache

fn copy_fixture(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(fixture(name), &p).unwrap();
    p
}

fn tmp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn damaged_cache_entries_are_recomputed_and_counted() {
    let t = tempfile::tempdir().unwrap();
    let audio = copy_fixture(t.path(), "tone_s16.flac");
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(t.path().join("c"))).unwrap();
    let good = fx.extract(&audio).unwrap();
    let entry = fx.cache_path(&audio).unwrap().unwrap();
    let original = std::fs::read(&entry).unwrap();
    let body_at = CACHE_HEADER_LEN + 4 * 100;
    let damages: Vec<(&str, Vec<u8>)> = vec![
        ("flipped body byte", {
            let mut b = original.clone();
            b[body_at] ^= 0x01;
            b
        }),
        ("flipped checksum byte", {
            let mut b = original.clone();
            b[30] ^= 0x80;
            b
        }),
        ("flipped warning count", {
            let mut b = original.clone();
            let n = b.len();
            b[n - 4] = 1;
            b
        }),
        ("flipped frame count", {
            let mut b = original.clone();
            b[12] ^= 0x02;
            b
        }),
        ("truncated", original[..original.len() - 10].to_vec()),
        ("header only", original[..CACHE_HEADER_LEN].to_vec()),
        ("too long", {
            let mut b = original.clone();
            b.extend_from_slice(&[0; 8]);
            b
        }),
    ];
    for (i, (what, bytes)) in damages.iter().enumerate() {
        std::fs::write(&entry, bytes).unwrap();
        let f = fx.extract(&audio).unwrap();
        assert_eq!(f, good, "{what}: recomputed features differ");
        assert_eq!(fx.cache_repairs(), i + 1, "{what}");
        assert_eq!(fx.cache_misses(), i + 2, "{what}");
        // Overwritten with a good entry, which the next call hits.
        assert_eq!(std::fs::read(&entry).unwrap(), original, "{what}");
        let hits = fx.cache_hits();
        assert_eq!(fx.extract(&audio).unwrap(), good);
        assert_eq!(fx.cache_hits(), hits + 1, "{what}");
    }
    // A version 1 entry (no checksum) under this key is damage too: version 1 entries have
    // their own keys (the key covers the version), so this version never reads them.
    let mut v1 = CACHE_MAGIC.to_vec();
    v1.extend_from_slice(&1u32.to_le_bytes());
    v1.extend_from_slice(&(good.spec.frames as u64).to_le_bytes());
    v1.extend_from_slice(&128u32.to_le_bytes());
    for v in &good.spec.data {
        v1.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&entry, &v1).unwrap();
    let repairs = fx.cache_repairs();
    let misses = fx.cache_misses();
    assert_eq!(fx.extract(&audio).unwrap(), good);
    assert_eq!(
        (fx.cache_repairs(), fx.cache_misses()),
        (repairs + 1, misses + 1)
    );
    assert_eq!(std::fs::read(&entry).unwrap(), original);
}

#[test]
fn cache_hits_replay_the_decode_warnings() {
    let t = tempfile::tempdir().unwrap();
    let s = ramp(1600);
    let audio = write(
        t.path(),
        "says_1s.wav",
        &Wav::pcm16(16_000, &s).declared(32_000).bytes(),
    );
    let cfg = FeatureConfig {
        frames: Some(50),
        ..FeatureConfig::default()
    };
    let fx = FeatureExtractor::new(cfg.clone(), Some(t.path().join("c"))).unwrap();
    let first = fx.extract(&audio).unwrap();
    let want = vec![AudioWarning::Truncated {
        path: audio.clone(),
        declared_frames: 16_000,
        decoded_frames: 1600,
        sample_rate: 16_000,
    }];
    assert_eq!(first.warnings, want);
    assert_eq!((first.spec.frames, first.valid_frames), (50, 11));
    let hit = fx.extract(&audio).unwrap();
    assert_eq!(fx.cache_hits(), 1);
    assert_eq!(hit, first);
    // A new extractor, and the same file under another spelling of its path: the warning
    // names the path passed this time.
    let other = t.path().join(".").join("says_1s.wav");
    let fx2 = FeatureExtractor::new(cfg, Some(t.path().join("c"))).unwrap();
    let again = fx2.extract(&other).unwrap();
    assert_eq!(fx2.cache_hits(), 1);
    assert_eq!(again.spec, first.spec);
    assert_eq!(
        again.warnings,
        vec![AudioWarning::Truncated {
            path: other.clone(),
            declared_frames: 16_000,
            decoded_frames: 1600,
            sample_rate: 16_000,
        }]
    );
    assert!(again.warnings[0]
        .to_string()
        .starts_with(&other.display().to_string()));
}

#[test]
fn a_failed_cache_write_is_a_warning_and_leaves_no_temp_file() {
    let t = tempfile::tempdir().unwrap();
    let names = ["tone_s16.wav", "tone_s16.flac", "tone.ogg", "tone.mp3"];
    let paths: Vec<PathBuf> = names.iter().map(|n| copy_fixture(t.path(), n)).collect();
    let cache = t.path().join("c");
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(cache.clone())).unwrap();
    let plain = FeatureExtractor::new(FeatureConfig::default(), None).unwrap();
    // Block every entry with a non-empty directory of its name: the rename onto it fails,
    // even for root.
    for p in &paths {
        let entry = fx.cache_path(p).unwrap().unwrap();
        std::fs::create_dir_all(entry.join("occupied")).unwrap();
    }
    let out = fx.extract_many(&paths, None);
    for (p, r) in paths.iter().zip(&out) {
        let f = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let entry = fx.cache_path(p).unwrap().unwrap();
        match f.warnings.as_slice() {
            [AudioWarning::CacheNotWritable { path, reason }] => {
                assert_eq!(path, &entry);
                assert!(reason.contains("not cached"), "{reason}");
            }
            other => panic!("{}: {other:?}", p.display()),
        }
        assert!(f.warnings[0].to_string().contains(&name_of(&entry)));
        let want = plain.extract(p).unwrap();
        assert_eq!((&f.spec, f.valid_frames), (&want.spec, want.valid_frames));
    }
    assert_eq!(fx.cache_repairs(), 0);
    assert!(tmp_files(&cache).is_empty(), "{:?}", tmp_files(&cache));
}

#[test]
fn a_cache_dir_that_cannot_be_created_disables_the_cache() {
    let t = tempfile::tempdir().unwrap();
    let not_a_dir = write(t.path(), "cache_is_a_file", b"x");
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(not_a_dir.clone())).unwrap();
    match fx.cache_warning() {
        Some(w @ AudioWarning::CacheNotWritable { path, reason }) => {
            assert_eq!(path, &not_a_dir);
            assert!(reason.contains("caching is disabled"), "{reason}");
            assert!(w.to_string().contains("cache_is_a_file"), "{w}");
        }
        other => panic!("{other:?}"),
    }
    assert!(fx.cache_dir().is_none());
    let audio = fixture("tone_s16.wav");
    assert_eq!(fx.cache_path(&audio).unwrap(), None);
    let f = fx.extract(&audio).unwrap();
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    assert_eq!((fx.cache_hits(), fx.cache_misses()), (0, 1));
    assert_eq!(std::fs::read(&not_a_dir).unwrap(), b"x");
    // A usable directory gives no warning.
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(t.path().join("ok"))).unwrap();
    assert!(fx.cache_warning().is_none());
    assert_eq!(fx.cache_dir(), Some(t.path().join("ok").as_path()));
}

#[cfg(unix)]
#[test]
fn a_read_only_cache_dir_never_drops_a_clip() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let names = [
        "tone_u8.wav",
        "tone_s16.wav",
        "tone_s24.wav",
        "tone_f32.wav",
        "tone_s16.flac",
        "tone.ogg",
    ];
    let paths: Vec<PathBuf> = names.iter().map(|n| copy_fixture(t.path(), n)).collect();
    let cache = t.path().join("ro");
    std::fs::create_dir(&cache).unwrap();
    // One entry is written while the directory is still writable.
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(cache.clone())).unwrap();
    let cached = fx.extract(&paths[0]).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root ignores permission bits; find out whether writes really fail here.
    let probe = cache.join("probe");
    let writable = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    let out = fx.extract_many(&paths, None);
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (i, (p, r)) in paths.iter().zip(&out).enumerate() {
        let f = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(f.spec.n_mels, 128);
        if i == 0 {
            // Read from the read-only cache.
            assert_eq!(f, &cached);
        } else if writable {
            assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        } else {
            assert!(
                matches!(
                    f.warnings.as_slice(),
                    [AudioWarning::CacheNotWritable { .. }]
                ),
                "{}: {:?}",
                p.display(),
                f.warnings
            );
        }
    }
    assert_eq!(fx.cache_hits(), 1);
    if writable {
        println!("running as root: permission bits do not stop writes; checked the hit only");
    }
    assert!(tmp_files(&cache).is_empty(), "{:?}", tmp_files(&cache));
}

#[test]
fn stale_temporary_files_are_ignored() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("c");
    let audio = copy_fixture(t.path(), "tone_s16.wav");
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(cache.clone())).unwrap();
    let entry = fx.cache_path(&audio).unwrap().unwrap();
    // What a process killed between create and rename leaves behind (pid 999999, counter 0).
    let stale = cache.join(format!(".{}.999999.0.tmp", name_of(&entry)));
    std::fs::write(&stale, b"half-written").unwrap();
    let a = fx.extract(&audio).unwrap();
    assert_eq!(fx.extract(&audio).unwrap(), a);
    assert_eq!(
        (fx.cache_hits(), fx.cache_misses(), fx.cache_repairs()),
        (1, 1, 0)
    );
    assert_eq!(std::fs::read(&stale).unwrap(), b"half-written");
    assert_eq!(tmp_files(&cache).len(), 1);
}
