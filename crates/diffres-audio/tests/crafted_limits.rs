//! Crafted lengths and special files: headers that declare more (or less) audio than the file
//! holds, lengths beyond the decode and resample limits, directories, devices and FIFOs, and
//! I/O error messages. Every case must give a clear error or warning naming the file, quickly,
//! with bounded memory.

use std::error::Error as _;
use std::path::{Path, PathBuf};

use diffres_audio::{
    decode_file, decode_file_with, load_audio, load_audio_with, resample, AudioError, AudioWarning,
    DecodeOptions, FeatureConfig, FeatureExtractor, FileKind, MAX_CHANNELS, MAX_DECODED_SAMPLES,
    MAX_SAMPLE_RATE, MIN_SAMPLE_RATE,
};

mod common;
use common::{as_f32, fixture, name_of, ramp, within, write, Wav};

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
