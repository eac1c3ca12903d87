//! Bad input gives a clear error naming the file and the reason, never a panic.

use std::path::{Path, PathBuf};

use diffres_audio::{
    decode_file, load_audio, AudioError, FeatureConfig, FeatureExtractor, LogMel, LogMelConfig,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}

/// A minimal RIFF/WAVE file: `format` 1 = integer PCM, 3 = IEEE float.
fn wav_bytes(format: u16, bits: u16, channels: u16, sr: u32, data: &[u8]) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&format.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&sr.to_le_bytes());
    b.extend_from_slice(&(sr * block as u32).to_le_bytes());
    b.extend_from_slice(&block.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(data);
    b
}

fn float_wav(samples: &[f32]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    wav_bytes(3, 32, 1, 16_000, &data)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Decode `p`, expect an error whose message names the file; return it.
fn expect_err(p: &Path) -> AudioError {
    let e = decode_file(p).expect_err(&format!("{} should fail", p.display()));
    let msg = e.to_string();
    println!("{msg}");
    let name = p.file_name().unwrap().to_string_lossy().to_string();
    assert!(msg.contains(&name), "error does not name the file: {msg}");
    // load_audio and the extractor give the same kind of error.
    assert!(load_audio(p, 16_000).is_err());
    e
}

#[test]
fn empty_file() {
    let t = tempfile::tempdir().unwrap();
    let p = write(t.path(), "empty.wav", b"");
    let e = expect_err(&p);
    assert!(matches!(e, AudioError::Decode { .. }), "{e:?}");
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn truncated_wav_header() {
    let t = tempfile::tempdir().unwrap();
    let full = std::fs::read(fixture("tone_s16.wav")).unwrap();
    for cut in [4usize, 12, 20, 30] {
        let p = write(t.path(), &format!("truncated_{cut}.wav"), &full[..cut]);
        let e = expect_err(&p);
        assert!(matches!(e, AudioError::Decode { .. }), "{e:?}");
    }
    // Header complete but the data cut short: the samples present are returned.
    let p = write(t.path(), "short_data.wav", &full[..full.len() - 1000]);
    let d = decode_file(&p).unwrap();
    assert_eq!(d.samples.len(), 1600 - 500);
}

#[test]
fn text_file_renamed_wav() {
    let t = tempfile::tempdir().unwrap();
    let p = write(
        t.path(),
        "notes.wav",
        b"This is not audio, just some text that someone renamed to .wav\n"
            .repeat(20)
            .as_slice(),
    );
    let e = expect_err(&p);
    assert!(matches!(e, AudioError::Decode { .. }), "{e:?}");
    // Same with an unknown extension.
    let p = write(t.path(), "notes.txt", b"hello");
    expect_err(&p);
}

#[test]
fn zero_length_audio() {
    let t = tempfile::tempdir().unwrap();
    let p = write(t.path(), "zero.wav", &wav_bytes(1, 16, 1, 16_000, &[]));
    let e = expect_err(&p);
    assert!(matches!(e, AudioError::EmptyAudio { .. }), "{e:?}");
    assert!(e.to_string().contains("zero length"), "{e}");
}

#[test]
fn nan_and_inf_samples() {
    let t = tempfile::tempdir().unwrap();
    let p = write(t.path(), "nan.wav", &float_wav(&[0.0, 0.1, f32::NAN, 0.2]));
    let e = expect_err(&p);
    assert!(
        matches!(e, AudioError::NonFiniteFile { index: 2, .. }),
        "{e:?}"
    );
    let p = write(t.path(), "inf.wav", &float_wav(&[f32::INFINITY, 0.1]));
    let e = expect_err(&p);
    assert!(
        matches!(e, AudioError::NonFiniteFile { index: 0, .. }),
        "{e:?}"
    );
    // A clean float WAV written the same way decodes.
    let p = write(t.path(), "ok.wav", &float_wav(&[0.0, 0.5, -0.5]));
    assert_eq!(decode_file(&p).unwrap().samples, vec![0.0, 0.5, -0.5]);
    // Sample buffers are checked too.
    let lm = LogMel::new(LogMelConfig::default()).unwrap();
    assert!(matches!(
        lm.log_mel(&[0.0, f32::NEG_INFINITY]),
        Err(AudioError::NonFinite { index: 1 })
    ));
}

#[test]
fn unsupported_codec() {
    // Opus in Ogg: the container is read, but there is no Opus decoder.
    let p = fixture("tone.opus");
    let e = expect_err(&p);
    assert!(matches!(e, AudioError::UnsupportedCodec { .. }), "{e:?}");
    assert!(e.to_string().contains("Opus"), "{e}");
    // A WAV with an unknown format tag (0x1234).
    let t = tempfile::tempdir().unwrap();
    let p = write(
        t.path(),
        "odd.wav",
        &wav_bytes(0x1234, 16, 1, 16_000, &[0; 64]),
    );
    let e = expect_err(&p);
    assert!(matches!(e, AudioError::UnsupportedCodec { .. }), "{e:?}");
}

#[test]
fn directory_and_missing_file() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("a_directory.wav");
    std::fs::create_dir(&d).unwrap();
    let e = expect_err(&d);
    assert!(matches!(e, AudioError::NotAFile { .. }), "{e:?}");
    let m = t.path().join("missing.flac");
    let e = expect_err(&m);
    match e {
        AudioError::Io { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn batch_returns_errors_per_file() {
    let t = tempfile::tempdir().unwrap();
    let paths = vec![
        fixture("tone_s16.wav"),
        write(t.path(), "bad.wav", b"garbage"),
        t.path().join("missing.wav"),
        fixture("tone_s16.flac"),
        write(t.path(), "zero.wav", &wav_bytes(1, 16, 1, 16_000, &[])),
    ];
    let fx = FeatureExtractor::new(FeatureConfig::default(), None).unwrap();
    let out = fx.extract_many(&paths, None);
    assert_eq!(out.len(), 5);
    assert!(out[0].is_ok() && out[3].is_ok());
    for i in [1, 2, 4] {
        let e = out[i].as_ref().unwrap_err().to_string();
        let name = paths[i].file_name().unwrap().to_string_lossy().to_string();
        assert!(e.contains(&name), "{e}");
    }
}

#[test]
fn invalid_configs_are_rejected() {
    let bad = [
        LogMelConfig::default().with_hop_length(0),
        LogMelConfig::default().with_hop_ms(0.5),
        LogMelConfig::default().with_hop_ms(50.0),
        LogMelConfig::default().with_n_fft(256),
        LogMelConfig::default().with_sample_rate(0),
    ];
    for c in bad {
        let e = LogMel::new(c.clone()).unwrap_err();
        assert!(matches!(e, AudioError::InvalidConfig(_)), "{c:?}: {e:?}");
        assert!(FeatureExtractor::new(
            FeatureConfig {
                log_mel: c,
                frames: None,
                ..Default::default()
            },
            None
        )
        .is_err());
    }
    assert!(FeatureExtractor::new(
        FeatureConfig {
            log_mel: LogMelConfig::default(),
            frames: Some(0),
            ..Default::default()
        },
        None
    )
    .is_err());
}
