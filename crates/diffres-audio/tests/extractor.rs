//! Feature extractor: cache round trip, cache keys, batch extraction, short clips.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use diffres_audio::{
    FeatureConfig, FeatureExtractor, LogMel, LogMelConfig, PadMode, CACHE_HEADER_LEN, CACHE_MAGIC,
    CACHE_VERSION,
};
use sha2::{Digest, Sha256};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}

fn copy_fixture(dir: &std::path::Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(fixture(name), &p).unwrap();
    p
}

#[test]
fn cache_round_trip() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let audio = copy_fixture(t.path(), "tone_s16.flac");
    let cfg = FeatureConfig::default();

    let fx = FeatureExtractor::new(cfg.clone(), Some(cache.clone())).unwrap();
    let a = fx.extract(&audio).unwrap();
    assert_eq!((fx.cache_hits(), fx.cache_misses()), (0, 1));
    assert_eq!(a.spec.frames, 1 + 1600 / 160);
    assert_eq!(a.valid_frames, a.spec.frames);
    let b = fx.extract(&audio).unwrap();
    assert_eq!((fx.cache_hits(), fx.cache_misses()), (1, 1));
    assert_eq!(a, b, "cached features differ");

    // Cache file layout (version 2): magic, version, frames, n_mels, SHA-256 of the payload,
    // payload = f32 LE data + u32 warning count (0 here).
    let entry = fx.cache_path(&audio).unwrap().unwrap();
    let bytes = std::fs::read(&entry).unwrap();
    assert_eq!(&bytes[..8], &CACHE_MAGIC);
    assert_eq!(
        u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
        CACHE_VERSION
    );
    assert_eq!(u64::from_le_bytes(bytes[12..20].try_into().unwrap()), 11);
    assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 128);
    assert_eq!(CACHE_HEADER_LEN, 56);
    assert_eq!(bytes.len(), 56 + 11 * 128 * 4 + 4);
    assert_eq!(&bytes[bytes.len() - 4..], &0u32.to_le_bytes());
    assert_eq!(&bytes[24..56], &Sha256::digest(&bytes[56..])[..]);
    let first = f32::from_le_bytes(bytes[56..60].try_into().unwrap());
    assert_eq!(first, a.spec.data[0]);
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");

    // A second run (new extractor, same cache dir) hits the cache.
    let fx2 = FeatureExtractor::new(cfg.clone(), Some(cache.clone())).unwrap();
    assert_eq!(fx2.extract(&audio).unwrap(), a);
    assert_eq!((fx2.cache_hits(), fx2.cache_misses()), (1, 0));

    // Same config, fixed length: cache shared, output padded with ln(1e-6).
    let fixed = FeatureConfig {
        frames: Some(20),
        ..cfg.clone()
    };
    let fx3 = FeatureExtractor::new(fixed, Some(cache.clone())).unwrap();
    assert_eq!(
        fx3.cache_key(&audio).unwrap(),
        fx.cache_key(&audio).unwrap()
    );
    let f = fx3.extract(&audio).unwrap();
    assert_eq!(fx3.cache_hits(), 1);
    assert_eq!((f.spec.frames, f.valid_frames), (20, 11));
    assert!(f.spec.frame(19).iter().all(|&v| v == (1e-6f64).ln() as f32));
    assert_eq!(&f.spec.data[..11 * 128], &a.spec.data[..]);

    // A different log-mel config gives a different key.
    let other = FeatureConfig {
        log_mel: LogMelConfig::default().with_hop_ms(1.0),
        frames: None,
        ..Default::default()
    };
    let fx4 = FeatureExtractor::new(other, Some(cache.clone())).unwrap();
    assert_ne!(
        fx4.cache_key(&audio).unwrap(),
        fx.cache_key(&audio).unwrap()
    );
    let g = fx4.extract(&audio).unwrap();
    assert_eq!((fx4.cache_hits(), fx4.cache_misses()), (0, 1));
    assert_eq!(g.spec.frames, 1 + 1600 / 16);

    // Changing the file changes the key.
    let k1 = fx.cache_key(&audio).unwrap();
    std::fs::copy(fixture("tone_s16.wav"), &audio).unwrap();
    assert_ne!(fx.cache_key(&audio).unwrap(), k1);

    // A corrupt entry is recomputed, not an error.
    let fx5 = FeatureExtractor::new(cfg, Some(cache.clone())).unwrap();
    let entry = fx5.cache_path(&audio).unwrap().unwrap();
    let _ = fx5.extract(&audio).unwrap();
    std::fs::write(&entry, b"DRESMEL\0garbage").unwrap();
    let again = fx5.extract(&audio).unwrap();
    assert_eq!(fx5.cache_misses(), 2);
    assert_eq!(fx5.cache_repairs(), 1);
    assert_eq!(again.spec.frames, 11);
    assert_eq!(fx5.extract(&audio).unwrap(), again);
    assert_eq!(fx5.cache_hits(), 1);
}

#[test]
fn extract_many_parallel_with_progress() {
    let t = tempfile::tempdir().unwrap();
    let names = [
        "tone_u8.wav",
        "tone_s16.wav",
        "tone_s24.wav",
        "tone_s32.wav",
        "tone_f32.wav",
        "tone_s16.flac",
        "tone.ogg",
        "tone.mp3",
        "stereo_s16.wav",
    ];
    let mut paths: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
    paths.push(t.path().join("does_not_exist.wav"));
    let cfg = FeatureConfig {
        log_mel: LogMelConfig::default(),
        frames: Some(8),
        ..Default::default()
    };
    let fx = FeatureExtractor::new(cfg, Some(t.path().join("c"))).unwrap();
    let calls = AtomicUsize::new(0);
    let max_seen = AtomicUsize::new(0);
    let cb = |n: usize| {
        calls.fetch_add(1, Ordering::SeqCst);
        max_seen.fetch_max(n, Ordering::SeqCst);
    };
    let out = fx.extract_many(&paths, Some(&cb));
    assert_eq!(out.len(), paths.len());
    assert_eq!(calls.load(Ordering::SeqCst), paths.len());
    assert_eq!(max_seen.load(Ordering::SeqCst), paths.len());
    for (p, r) in paths.iter().zip(&out).take(names.len()) {
        let f = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!((f.spec.frames, f.valid_frames, f.spec.n_mels), (8, 8, 128));
    }
    assert!(out.last().unwrap().is_err());
    // Results are in input order and equal to the sequential ones.
    for (p, r) in paths.iter().zip(&out).take(names.len()) {
        assert_eq!(&fx.extract(p).unwrap(), r.as_ref().unwrap());
    }
    assert_eq!(fx.cache_hits(), names.len());
}

#[test]
fn short_clips_are_padded() {
    for pad_mode in [PadMode::Reflect, PadMode::Constant] {
        for hop_ms in [1.0f32, 10.0, 40.0] {
            let cfg = LogMelConfig::default()
                .with_hop_ms(hop_ms)
                .with_center(true, pad_mode);
            let hop = cfg.hop_length;
            let lm = LogMel::new(cfg.clone()).unwrap();
            for n in [1usize, 2, 3, 50, 255, 256, 257, 399, 400, 511, 512, 513] {
                let s: Vec<f32> = (0..n)
                    .map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5)
                    .collect();
                let spec = lm.log_mel(&s).unwrap();
                assert_eq!(spec.frames, 1 + n / hop, "n {n} hop {hop}");
                assert!(spec.data.iter().all(|v| v.is_finite()));
                let fx = FeatureExtractor::new(
                    FeatureConfig {
                        log_mel: cfg.clone(),
                        frames: Some(30),
                        ..Default::default()
                    },
                    None,
                )
                .unwrap();
                let f = fx.extract_samples(&s).unwrap();
                assert_eq!(f.valid_frames, (1 + n / hop).min(30));
                assert_eq!(f.spec.frames, 30);
            }
        }
    }
    // One sample with reflect padding equals that sample repeated (numpy semantics).
    let lm = LogMel::new(LogMelConfig::default()).unwrap();
    let a = lm.power_mel(&[0.25]).unwrap();
    // An interior frame of a long constant signal sees the same constant frame.
    let long = lm.power_mel(&[0.25; 2000]).unwrap();
    for (x, y) in a.frame(0).iter().zip(long.frame(5)) {
        assert!((x - y).abs() <= 1e-5 * y.abs().max(1e-3), "{x} vs {y}");
    }
    // Empty input is an error.
    assert!(lm.log_mel(&[]).is_err());
}

#[test]
fn extract_samples_equals_log_mel() {
    let s: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
    let fx = FeatureExtractor::new(FeatureConfig::default(), None).unwrap();
    let f = fx.extract_samples(&s).unwrap();
    let direct = LogMel::new(LogMelConfig::default())
        .unwrap()
        .log_mel(&s)
        .unwrap();
    assert_eq!(f.spec, direct);
    assert_eq!(f.valid_frames, 26);
}

#[test]
fn config_serde_round_trip() {
    let cfg = FeatureConfig {
        log_mel: LogMelConfig::default().with_hop_ms(1.0).with_n_mels(64),
        frames: Some(1000),
        ..Default::default()
    };
    let json = serde_json::to_string(&cfg).unwrap();
    assert!(json.contains("\"mel_scale\":\"htk\""), "{json}");
    let back: FeatureConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, cfg);
}

/// The waveform "features" of learnable filterbanks: the decoded samples, one per row, cached
/// under their own key, padded with zeros, never normalised.
#[test]
fn waveform_features_are_the_samples_cached_apart() {
    use diffres_audio::{load_audio, FeatureKind, Normalization};
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let audio = copy_fixture(t.path(), "tone_s16.flac");
    let cfg = FeatureConfig {
        kind: FeatureKind::Waveform,
        ..Default::default()
    };
    assert_eq!(
        (cfg.width(), cfg.pad_value(), cfg.num_frames(1234)),
        (1, 0.0, 1234)
    );
    assert_eq!(cfg.row_seconds(), 1.0 / 16_000.0);
    let fx = FeatureExtractor::new(cfg.clone(), Some(cache.clone())).unwrap();
    let samples = load_audio(&audio, 16_000).unwrap();
    let first = fx.extract(&audio).unwrap();
    assert_eq!(first.spec.n_mels, 1);
    assert_eq!(first.spec.data, samples);
    let again = fx.extract(&audio).unwrap();
    assert_eq!((fx.cache_hits(), again), (1, first.clone()));
    // Not the log-mel entry of the same file.
    let mel = FeatureExtractor::new(FeatureConfig::default(), Some(cache)).unwrap();
    assert_ne!(
        mel.cache_path(&audio).unwrap(),
        fx.cache_path(&audio).unwrap()
    );
    assert_eq!(mel.extract(&audio).unwrap().spec.n_mels, 128);
    let (padded, valid) = first.spec.fit_frames(samples.len() + 5, cfg.pad_value());
    assert_eq!(
        (valid, &padded.data[samples.len()..]),
        (samples.len(), &[0.0; 5][..])
    );
    assert_eq!(
        "waveform".parse::<FeatureKind>().unwrap(),
        FeatureKind::Waveform
    );
    let normalised = FeatureConfig {
        normalize: Some(Normalization {
            mean: 0.0,
            std: 1.0,
        }),
        ..cfg
    };
    assert!(normalised
        .validate()
        .unwrap_err()
        .to_string()
        .contains("waveform"));
}
