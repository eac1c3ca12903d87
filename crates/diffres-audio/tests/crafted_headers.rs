//! Hostile, crafted headers: absurd sample rates and channel counts, truncated or padded
//! RIFF/WAVE chunks, `WAVE_FORMAT_EXTENSIBLE`, and FLAC STREAMINFO values the demuxer accepts
//! but the decoder must not. Every case must give a clear error naming the file, quickly.

use diffres_audio::{
    decode_file, decode_file_with, load_audio, load_audio_with, resampled_len, AudioError,
    AudioWarning, DecodeOptions, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE,
};

mod common;
use common::{as_f32, flac, name_of, ramp, within, write, Wav};

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
