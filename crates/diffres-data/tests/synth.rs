//! Tests of the synthetic dataset generator.

use std::time::SystemTime;

use diffres_data::synth::{
    class_names, clip_seed, generate, generate_clip, write_dataset, SynthConfig,
};
use diffres_data::{load_dataset, DataError, Format, LoadOptions, Split};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn small(seed: u64) -> SynthConfig {
    SynthConfig {
        clips_per_class: 4,
        seed,
        ..SynthConfig::default()
    }
}

fn class(name: &str) -> usize {
    class_names().iter().position(|c| *c == name).unwrap()
}

/// RMS of consecutive frames of `frame` samples.
fn envelope(x: &[f32], frame: usize) -> Vec<f32> {
    x.chunks(frame)
        .map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt())
        .collect()
}

/// Runs of frames above `rel` times the loudest frame: (start, end) frame indices.
fn bursts(env: &[f32], rel: f32) -> Vec<(usize, usize)> {
    let max = env.iter().cloned().fold(0.0, f32::max);
    let mut runs = Vec::new();
    let mut start = None;
    for (i, &e) in env.iter().enumerate() {
        match (e > rel * max, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, env.len()));
    }
    runs
}

fn clean_clip(name: &str, i: u64) -> Vec<f32> {
    let cfg = SynthConfig {
        snr_db: (40.0, 40.0),
        ..SynthConfig::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(1000 + i);
    generate_clip(class(name), &mut rng, &cfg)
}

fn zero_crossings(x: &[f32]) -> usize {
    x.windows(2)
        .filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0))
        .count()
}

#[test]
fn classes() {
    let names = class_names();
    assert!(names.len() >= 8);
    for n in [
        "beep",
        "double_beep",
        "chirp_up",
        "chirp_down",
        "slow_siren",
        "fast_siren",
    ] {
        assert!(names.contains(&n), "{n}");
    }
}

#[test]
fn deterministic_valid_and_seed_dependent() {
    let a = generate(&small(1));
    let b = generate(&small(1));
    let c = generate(&small(2));
    assert_eq!(a.len(), 4 * class_names().len());
    assert_eq!(a, b);
    assert_ne!(a[0].samples, c[0].samples);
    let n = SynthConfig::default().num_samples();
    assert_eq!(n, 16000);
    for clip in &a {
        assert_eq!(clip.samples.len(), n);
        assert!(clip
            .samples
            .iter()
            .all(|v| v.is_finite() && (-1.0..=1.0).contains(v)));
        let peak = clip.samples.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((0.29..=0.91).contains(&peak), "{} peak {peak}", clip.name);
        assert_eq!(
            clip.name,
            format!(
                "{}_{:05}",
                class_names()[clip.class],
                a.iter()
                    .filter(|o| o.class == clip.class && o.name < clip.name)
                    .count()
            )
        );
    }
    for k in 0..class_names().len() {
        assert_eq!(a.iter().filter(|c| c.class == k).count(), 4);
    }
    // order-independent: each clip comes from its own seed
    let clip = &a[4 * 3 + 2];
    let mut rng = ChaCha8Rng::seed_from_u64(clip_seed(1, 3, 2));
    assert_eq!(generate_clip(3, &mut rng, &small(1)), clip.samples);
}

#[test]
fn stratified_splits() {
    let cfg = SynthConfig {
        clips_per_class: 10,
        seconds: 0.5,
        ..SynthConfig::default()
    };
    let clips = generate(&cfg);
    for k in 0..class_names().len() {
        let of = |s: Split| {
            clips
                .iter()
                .filter(|c| c.class == k && c.split == s)
                .count()
        };
        assert_eq!(
            (of(Split::Train), of(Split::Val), of(Split::Test)),
            (8, 1, 1)
        );
    }
    assert!(clips.iter().all(|c| c.samples.len() == 8000));
}

#[test]
fn beep_has_one_burst_double_beep_two() {
    // 2.5 ms frames at 16 kHz; high SNR
    for i in 0..20 {
        let b = bursts(&envelope(&clean_clip("beep", i), 40), 0.3);
        assert_eq!(b.len(), 1, "beep {i}: {b:?}");
        let d = bursts(&envelope(&clean_clip("double_beep", i), 40), 0.3);
        assert_eq!(d.len(), 2, "double_beep {i}: {d:?}");
        // a 20-30 ms gap (8-12 frames, +-2 for the ramps and the threshold)
        let gap = d[1].0 - d[0].1;
        assert!((6..=14).contains(&gap), "double_beep {i}: gap {gap} frames");
        // same span distribution: 70-90 ms = 28-36 frames
        let beep_len = b[0].1 - b[0].0;
        let double_len = d[1].1 - d[0].0;
        assert!((25..=38).contains(&beep_len), "beep {i}: {beep_len} frames");
        assert!(
            (25..=38).contains(&double_len),
            "double_beep {i}: {double_len} frames"
        );
    }
}

#[test]
fn chirp_direction() {
    for i in 0..10 {
        for (name, up) in [("chirp_up", true), ("chirp_down", false)] {
            let x = clean_clip(name, i);
            let b = bursts(&envelope(&x, 40), 0.2);
            assert_eq!(b.len(), 1, "{name} {i}: {b:?}");
            let (s, e) = (b[0].0 * 40, b[0].1 * 40);
            let third = (e - s) / 3;
            let first = zero_crossings(&x[s..s + third]);
            let last = zero_crossings(&x[e - third..e]);
            assert_eq!(first < last, up, "{name} {i}: {first} vs {last} crossings");
            assert!(
                first.max(last) > 2 * first.min(last),
                "{name} {i}: {first} vs {last}"
            );
        }
    }
}

#[test]
fn siren_rates_differ() {
    // count oscillations of the instantaneous frequency (zero crossings per 20 ms window)
    let osc = |x: &[f32]| {
        let b = bursts(&envelope(x, 160), 0.3);
        let (s, e) = (b[0].0 * 160, b.last().unwrap().1 * 160);
        let zc: Vec<f32> = x[s..e]
            .windows(320)
            .step_by(80)
            .map(|w| zero_crossings(w) as f32)
            .collect();
        let mean = zc.iter().sum::<f32>() / zc.len() as f32;
        // crossings of the mean with hysteresis of 2 crossings
        let mut above = zc[0] > mean;
        let mut n = 0;
        for &z in &zc {
            if above && z < mean - 2.0 {
                above = false;
                n += 1;
            } else if !above && z > mean + 2.0 {
                above = true;
                n += 1;
            }
        }
        n
    };
    for i in 0..5 {
        let slow = osc(&clean_clip("slow_siren", i));
        let fast = osc(&clean_clip("fast_siren", i));
        // ~0.5 s at 3 Hz -> ~3 mean crossings; at 12 Hz -> ~12
        assert!(slow <= 5, "slow {i}: {slow}");
        assert!(fast >= 8, "fast {i}: {fast}");
    }
}

#[test]
fn snr_is_respected() {
    // at 40 dB the event dominates; at 0 dB the noise over the whole clip is much louder than
    // at 40 dB relative to the peak
    let cfg_lo = SynthConfig {
        snr_db: (0.0, 0.0),
        ..SynthConfig::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let x = generate_clip(class("beep"), &mut rng, &cfg_lo);
    let env = envelope(&x, 160);
    let mut sorted = env.clone();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[sorted.len() / 2];
    let max = sorted[sorted.len() - 1];
    // a 60-85 ms beep at 0 dB: the loudest 10 ms frame is within a few dB of the noise floor
    assert!(max / median < 4.0, "ratio {}", max / median);
    let y = clean_clip("beep", 9);
    let env = envelope(&y, 160);
    let mut sorted = env.clone();
    sorted.sort_by(f32::total_cmp);
    assert!(sorted[sorted.len() - 1] / sorted[sorted.len() / 2] > 30.0);
}

#[test]
fn write_dataset_roundtrip_and_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        clips_per_class: 5,
        seconds: 0.5,
        seed: 3,
        ..SynthConfig::default()
    };
    let manifest = write_dataset(dir.path(), &cfg).unwrap();
    assert_eq!(manifest, dir.path().join("manifest.csv"));
    assert!(dir.path().join("synth.json").is_file());

    let ds = load_dataset(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(ds.format, Format::Csv);
    assert!(!ds.multi_label);
    let mut sorted: Vec<String> = class_names().iter().map(|s| s.to_string()).collect();
    sorted.sort();
    assert_eq!(ds.classes, sorted);
    assert_eq!(ds.clips.len(), 5 * class_names().len());
    let clips = generate(&cfg);
    for (c, g) in ds.clips.iter().zip(&clips) {
        assert_eq!(ds.classes[c.label()], class_names()[g.class]);
        assert_eq!(c.split, g.split);
        assert!(c
            .path
            .ends_with(format!("audio/{}/{}.wav", class_names()[g.class], g.name)));
    }
    let ds2 = load_dataset(&manifest, &LoadOptions::default()).unwrap();
    assert_eq!(ds.clips, ds2.clips);
    let dir_name = dir.path().file_name().unwrap().to_str().unwrap();
    assert_eq!(ds.name, dir_name);
    assert_eq!(ds2.name, dir_name);

    // the WAV content is the generated signal in 16-bit PCM
    let mut r = hound::WavReader::open(&ds.clips[7].path).unwrap();
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 16000, 16)
    );
    let s: Vec<i16> = r.samples::<i16>().map(|v| v.unwrap()).collect();
    assert_eq!(s.len(), 8000);
    for (a, b) in s.iter().zip(&clips[7].samples) {
        assert!((*a as f32 / 32767.0 - b).abs() <= 1.0 / 32767.0 + 1e-6);
    }

    // idempotent: nothing is rewritten
    let wav = ds.clips[0].path.clone();
    let t0: SystemTime = std::fs::metadata(&wav).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    write_dataset(dir.path(), &cfg).unwrap();
    assert_eq!(std::fs::metadata(&wav).unwrap().modified().unwrap(), t0);

    // a missing file triggers regeneration
    std::fs::remove_file(&wav).unwrap();
    write_dataset(dir.path(), &cfg).unwrap();
    assert!(wav.is_file());

    // another config regenerates (and old audio is removed)
    let cfg2 = SynthConfig {
        clips_per_class: 2,
        ..cfg.clone()
    };
    write_dataset(dir.path(), &cfg2).unwrap();
    let ds3 = load_dataset(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(ds3.clips.len(), 2 * class_names().len());
    assert!(!dir.path().join("audio/beep/beep_00004.wav").exists());
    // 10% of 2 clips rounds to none: the manifest has only training clips, so the loader holds
    // out one clip of the first of the (equally large) classes for validation.
    assert_eq!(ds3.split(Split::Train).len(), 2 * class_names().len() - 1);
    let val = ds3.split(Split::Val);
    assert_eq!(val.len(), 1);
    assert_eq!(ds3.classes[val[0].label()], "beep");
    assert!(
        ds3.notes[0].contains("held out 1 of 18 training clips"),
        "{:?}",
        ds3.notes
    );
}

#[test]
fn invalid_config() {
    let dir = tempfile::tempdir().unwrap();
    for cfg in [
        SynthConfig {
            clips_per_class: 0,
            ..SynthConfig::default()
        },
        SynthConfig {
            seconds: 0.1,
            ..SynthConfig::default()
        },
        SynthConfig {
            sample_rate: 100,
            ..SynthConfig::default()
        },
        SynthConfig {
            snr_db: (10.0, 0.0),
            ..SynthConfig::default()
        },
        SynthConfig {
            val_fraction: 0.7,
            test_fraction: 0.4,
            ..SynthConfig::default()
        },
    ] {
        let e = write_dataset(dir.path(), &cfg).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::InvalidConfig(_) | DataError::FractionOutOfRange { .. }
            ),
            "{e}"
        );
    }
}
