//! Kaldi-compatible filterbanks: the golden vectors of `torchaudio.compliance.kaldi.fbank`
//! (`../shared/reference/kaldi`, or the folder named by `DIFFRES_KALDI_GOLDEN`), and the
//! feature extractor with `FeatureKind::Kaldi` and PSLA's normalisation.
//!
//! A golden file that does not parse fails the test.

use std::path::{Path, PathBuf};

use diffres_audio::{
    FeatureConfig, FeatureExtractor, FeatureKind, KaldiFbank, KaldiFbankConfig, LogMelConfig,
    Normalization,
};
use serde_json::Value;

fn golden_dir() -> Option<PathBuf> {
    match std::env::var_os("DIFFRES_KALDI_GOLDEN") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/kaldi");
            dir.is_dir().then_some(dir)
        }
    }
}

fn numbers(v: &Value, what: &str) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what}: expected an array"))
        .iter()
        .map(|x| {
            x.as_f64()
                .unwrap_or_else(|| panic!("{what}: expected numbers"))
        })
        .collect()
}

/// torchaudio to 1e-6 absolute on every log energy (the filterbank reproduces torchaudio's
/// `f32` arithmetic, PyTorch's logarithm included: see `kaldi_mel_f32`).
#[test]
fn golden_kaldi_fbank_matches_torchaudio() {
    let Some(dir) = golden_dir() else {
        eprintln!("SKIP: no Kaldi golden folder (set DIFFRES_KALDI_GOLDEN)");
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read golden folder {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no *.json", dir.display());
    let mut checked = 0;
    for path in files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
        let int = |k: &str| {
            v[k].as_u64()
                .unwrap_or_else(|| panic!("{name}: missing integer {k}")) as usize
        };
        let sr = int("sample_rate");
        // Every convention the generator states must be the one we implement.
        for (key, want) in [
            ("window_type", Value::from("hanning")),
            ("use_energy", Value::from(false)),
            ("dither", Value::from(0.0)),
            ("snip_edges", Value::from(true)),
        ] {
            assert_eq!(v[key], want, "{name}: {key}");
        }
        let cfg = KaldiFbankConfig {
            sample_rate: sr as u32,
            n_mels: int("num_mel_bins"),
            win_length: sr * int("frame_length_ms") / 1000,
            hop_length: sr * int("frame_shift_ms") / 1000,
            ..KaldiFbankConfig::default()
        };
        let fbank = KaldiFbank::new(cfg.clone()).unwrap();
        let wave = numbers(&v["waveform"], "waveform");
        let want: Vec<Vec<f64>> = v["fbank"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: fbank"))
            .iter()
            .map(|r| numbers(r, "fbank"))
            .collect();
        let (frames, got) = fbank.log_fbank_f64(&wave).unwrap();
        assert_eq!(frames, want.len(), "{name}: frames");
        assert_eq!(frames, cfg.num_frames(wave.len()));
        let mut worst = 0.0f64;
        for (t, row) in want.iter().enumerate() {
            assert_eq!(row.len(), cfg.n_mels, "{name}: bins");
            for (m, &w) in row.iter().enumerate() {
                let g = got[t * cfg.n_mels + m];
                let err = (g - w).abs();
                assert!(
                    err <= 1e-6,
                    "{name}: fbank[{t}][{m}] = {g}, torchaudio {w} (error {err:e})"
                );
                worst = worst.max(err);
            }
        }
        // The f32 path: the same values, rounded (16-bit audio is exact in f32).
        let wave32: Vec<f32> = wave.iter().map(|&s| s as f32).collect();
        let spec = fbank.log_fbank(&wave32).unwrap();
        for (g, w) in spec.data.iter().zip(&got) {
            assert!(
                (*g as f64 - w).abs() <= 1e-7 * w.abs().max(1.0),
                "{name}: f32 {g} vs {w}"
            );
        }
        eprintln!(
            "{name}: {} log energies, all within {worst:.1e} of torchaudio",
            frames * cfg.n_mels
        );
        checked += 1;
    }
    println!("checked {checked} Kaldi fbank file(s)");
    eprintln!("checked {checked} Kaldi fbank file(s)");
}

/// A 1 s chirp at 16 kHz written as a 16-bit WAV.
fn chirp_wav(dir: &Path) -> PathBuf {
    let path = dir.join("chirp.wav");
    let samples: Vec<i16> = (0..16_000)
        .map(|i| {
            let t = i as f64 / 16_000.0;
            (8000.0 * (2.0 * std::f64::consts::PI * (200.0 + 1500.0 * t) * t).sin()) as i16
        })
        .collect();
    let mut bytes = Vec::new();
    let data_len = (samples.len() * 2) as u32;
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&16_000u32.to_le_bytes());
    bytes.extend_from_slice(&32_000u32.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn extractor_computes_normalised_kaldi_features_and_caches_them_apart() {
    let t = tempfile::tempdir().unwrap();
    let wav = chirp_wav(t.path());
    let cache = t.path().join("cache");
    let norm = Normalization {
        mean: -4.0,
        std: 2.5,
    };
    let kaldi = FeatureConfig {
        kind: FeatureKind::Kaldi,
        normalize: Some(norm),
        frames: Some(100),
        ..Default::default()
    };
    let fx = FeatureExtractor::new(kaldi.clone(), Some(cache.clone())).unwrap();
    let f = fx.extract(&wav).unwrap();
    // Kaldi frames (98 for 1 s, not librosa's 101), padded to 100 with PSLA's zero, normalised.
    assert_eq!((f.spec.frames, f.valid_frames), (100, 98));
    assert_eq!(kaldi.pad_value(), (0.0 + 4.0) / 5.0);
    assert!(f.spec.frame(99).iter().all(|&v| v == kaldi.pad_value()));
    let raw = KaldiFbank::new(KaldiFbankConfig::default()).unwrap();
    let samples = diffres_audio::load_audio(&wav, 16_000).unwrap();
    let plain = raw.log_fbank(&samples).unwrap();
    for (a, b) in f.spec.data.iter().zip(&plain.data) {
        assert!((a - norm.apply(*b)).abs() < 1e-6);
    }

    // Log-mel and Kaldi features of the same file never share a cache entry; log-mel keys
    // are the ones they were before Kaldi features existed (a log-mel config's hash alone).
    let mel = FeatureExtractor::new(FeatureConfig::default(), Some(cache.clone())).unwrap();
    assert_ne!(mel.cache_key(&wav).unwrap(), fx.cache_key(&wav).unwrap());
    assert_eq!(mel.extract(&wav).unwrap().spec.frames, 101);
    // The normalisation is applied after the cache: changing it reuses the entry.
    let other = FeatureExtractor::new(
        FeatureConfig {
            normalize: None,
            ..kaldi.clone()
        },
        Some(cache),
    )
    .unwrap();
    assert_eq!(other.cache_key(&wav).unwrap(), fx.cache_key(&wav).unwrap());
    let again = other.extract(&wav).unwrap();
    assert_eq!(other.cache_hits(), 1);
    assert_eq!(&again.spec.data[..98 * 128], &plain.data[..]);
}

#[test]
fn old_feature_configs_still_read_and_bad_ones_are_refused() {
    // A FeatureConfig written before `kind` and `normalize` existed.
    let old = serde_json::json!({
        "log_mel": serde_json::to_value(LogMelConfig::default()).unwrap(),
        "frames": 50
    });
    let cfg: FeatureConfig = serde_json::from_value(old).unwrap();
    assert_eq!(
        (cfg.kind, cfg.normalize, cfg.frames),
        (FeatureKind::LogMel, None, Some(50))
    );
    let bad = FeatureConfig {
        normalize: Some(Normalization {
            mean: 0.0,
            std: 0.0,
        }),
        ..Default::default()
    };
    assert!(FeatureExtractor::new(bad, None).is_err());
    let bad = FeatureConfig {
        kind: FeatureKind::Kaldi,
        log_mel: LogMelConfig::default().with_f_range(0.0, Some(10.0)),
        ..Default::default()
    };
    // 10 Hz is below Kaldi's 20 Hz low edge.
    assert!(FeatureExtractor::new(bad, None).is_err());
}
