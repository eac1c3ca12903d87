//! Golden-vector tests against librosa / torchaudio output (`shared/reference/mel`).
//!
//! The folder is taken from `DIFFRES_MEL_GOLDEN`, else `<repo>/../shared/reference/mel`.
//! If neither exists the tests print a skip message and pass; a file that does not parse or has
//! an unknown schema makes them fail.

use std::path::{Path, PathBuf};

use diffres_audio::{
    decode_file, hann_periodic, mel_band_edges, resample, LogMel, LogMelConfig, MelNorm, MelScale,
    PadMode,
};
use serde_json::Value;

fn golden_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("DIFFRES_MEL_GOLDEN") {
        let p = PathBuf::from(dir);
        assert!(
            p.is_dir(),
            "DIFFRES_MEL_GOLDEN={} is not a directory",
            p.display()
        );
        return Some(p);
    }
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/mel"
    ));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIP: golden mel vectors not found at {} (set DIFFRES_MEL_GOLDEN to run these tests)",
            p.display()
        );
        None
    }
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
    assert_eq!(
        v["schema_version"].as_u64(),
        Some(1),
        "{}: unknown schema_version",
        path.display()
    );
    v
}

fn f64s(v: &Value, what: &str) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what}: expected an array"))
        .iter()
        .map(|x| {
            x.as_f64()
                .unwrap_or_else(|| panic!("{what}: expected numbers"))
        })
        .collect()
}

fn matrix(v: &Value, what: &str) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what}: expected an array of rows"))
        .iter()
        .map(|r| f64s(r, what))
        .collect()
}

fn num(p: &Value, key: &str, what: &str) -> f64 {
    p[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: missing numeric param {key}"))
}

fn int(p: &Value, key: &str, what: &str) -> usize {
    p[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: missing integer param {key}")) as usize
}

/// Build our config from a librosa (`librosa.filters.mel` args / `melspectrogram` params) or
/// torchaudio parameter object. Panics on anything not understood.
fn config_from_params(p: &Value, library: &str, what: &str) -> LogMelConfig {
    let known_librosa = [
        "sr",
        "n_fft",
        "win_length",
        "hop_length",
        "window",
        "center",
        "pad_mode",
        "power",
        "n_mels",
        "fmin",
        "fmax",
        "htk",
        "norm",
        "mel_filterbank_dtype",
        "dtype",
    ];
    let known_torch = [
        "sample_rate",
        "n_fft",
        "win_length",
        "hop_length",
        "n_mels",
        "f_min",
        "f_max",
        "window_fn",
        "center",
        "pad_mode",
        "power",
        "norm",
        "mel_scale",
        "module_dtype",
    ];
    let obj = p
        .as_object()
        .unwrap_or_else(|| panic!("{what}: params is not an object"));
    let known: &[&str] = match library {
        "librosa" => &known_librosa,
        "torchaudio" => &known_torch,
        other => panic!("{what}: unknown library {other:?}"),
    };
    for k in obj.keys() {
        assert!(known.contains(&k.as_str()), "{what}: unknown param {k:?}");
    }
    let mut c = LogMelConfig::default();
    let (sr_key, fmin_key, fmax_key) = if library == "librosa" {
        ("sr", "fmin", "fmax")
    } else {
        ("sample_rate", "f_min", "f_max")
    };
    c.sample_rate = int(p, sr_key, what) as u32;
    c.n_fft = int(p, "n_fft", what);
    c.win_length = p["win_length"]
        .as_u64()
        .map(|x| x as usize)
        .unwrap_or(c.n_fft);
    c.hop_length = p["hop_length"]
        .as_u64()
        .map(|x| x as usize)
        .unwrap_or(c.n_fft / 4);
    c.n_mels = int(p, "n_mels", what);
    c.f_min = num(p, fmin_key, what) as f32;
    c.f_max = p[fmax_key].as_f64().map(|x| x as f32);
    if let Some(w) = p.get("window") {
        assert_eq!(w.as_str(), Some("hann"), "{what}: unsupported window");
    }
    if let Some(w) = p.get("window_fn") {
        assert_eq!(
            w.as_str(),
            Some("torch.hann_window"),
            "{what}: unsupported window"
        );
    }
    c.center = p
        .get("center")
        .map(|v| v.as_bool().expect("center bool"))
        .unwrap_or(true);
    c.pad_mode = match p.get("pad_mode").and_then(|v| v.as_str()) {
        Some("reflect") => PadMode::Reflect,
        Some("constant") => PadMode::Constant,
        None => PadMode::Constant,
        Some(other) => panic!("{what}: unknown pad_mode {other:?}"),
    };
    c.power = p
        .get("power")
        .map(|v| v.as_f64().expect("power") as f32)
        .unwrap_or(2.0);
    c.mel_scale = if library == "librosa" {
        match p["htk"].as_bool() {
            Some(true) => MelScale::Htk,
            Some(false) => MelScale::Slaney,
            None => panic!("{what}: htk must be a bool"),
        }
    } else {
        match p["mel_scale"].as_str() {
            Some("htk") => MelScale::Htk,
            Some("slaney") => MelScale::Slaney,
            other => panic!("{what}: unknown mel_scale {other:?}"),
        }
    };
    c.norm = match &p["norm"] {
        Value::Null => MelNorm::None,
        Value::String(s) if s == "slaney" => MelNorm::Slaney,
        other => panic!("{what}: unknown norm {other:?}"),
    };
    c
}

#[test]
fn golden_common_window_and_filterbanks() {
    let Some(dir) = golden_dir() else { return };
    let v = load(&dir.join("common.json"));
    let w = &v["window"];
    let wl = w["win_length"].as_u64().expect("win_length") as usize;
    let n_fft = w["n_fft"].as_u64().expect("n_fft") as usize;
    let ours = hann_periodic(wl);
    let theirs = f64s(&w["hann_periodic_400"], "hann_periodic_400");
    assert_eq!(ours.len(), theirs.len());
    let d = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(d < 1e-12, "window max diff {d}");
    let lm = LogMel::new(
        LogMelConfig::default()
            .with_win_length(wl)
            .with_n_fft(n_fft),
    )
    .unwrap();
    let padded = lm.window_padded();
    let theirs = f64s(&w["hann_periodic_400_centred_in_512"], "window 512");
    assert_eq!(padded.len(), theirs.len());
    let d = padded
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(d < 1e-12, "padded window max diff {d}");
    assert_eq!(
        w["left_pad"].as_u64(),
        Some(((n_fft - wl) / 2) as u64),
        "left pad"
    );

    let fbs = v["filterbanks"].as_object().expect("filterbanks object");
    assert!(!fbs.is_empty());
    for (name, fb) in fbs {
        assert_eq!(
            fb["function"].as_str(),
            Some("librosa.filters.mel"),
            "{name}: unknown function"
        );
        let cfg = config_from_params(&fb["args"], "librosa", name);
        let lm = LogMel::new(cfg.clone()).unwrap();
        let ours = lm.filterbank_dense();
        let theirs = matrix(&fb["data"], name);
        assert_eq!(ours.len(), theirs.len(), "{name}: n_mels");
        let mut max_d = 0.0f64;
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a.len(), b.len(), "{name}: n_bins");
            for (x, y) in a.iter().zip(b) {
                max_d = max_d.max((x - y).abs());
            }
        }
        let edges = mel_band_edges(&cfg);
        let theirs_e = f64s(&fb["mel_band_edges_hz"], name);
        let max_e = edges
            .iter()
            .zip(&theirs_e)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0, f64::max);
        let zero_rows: Vec<u64> = ours
            .iter()
            .enumerate()
            .filter(|(_, r)| r.iter().all(|&x| x == 0.0))
            .map(|(i, _)| i as u64)
            .collect();
        let theirs_zero: Vec<u64> = fb["all_zero_filters"]
            .as_array()
            .expect("all_zero_filters")
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        println!("{name}: filterbank max|diff| {max_d:.3e}, band edges max rel diff {max_e:.3e}");
        assert!(max_d < 1e-12, "{name}: filterbank max diff {max_d}");
        assert!(max_e < 1e-12, "{name}: band edges max rel diff {max_e}");
        assert_eq!(zero_rows, theirs_zero, "{name}: all-zero filters");
    }
}

struct Cmp {
    max_abs_over_peak: f64,
    max_rel: f64,
}

/// Compare power spectrograms: elementwise relative error on bins above `1e-8` of their
/// frame's maximum, plus max |diff| over the global peak.
fn compare_power(ours: &[f64], theirs: &[Vec<f64>], n_mels: usize) -> Cmp {
    let peak = theirs.iter().flatten().fold(0.0f64, |a, &b| a.max(b.abs()));
    let mut max_abs = 0.0f64;
    let mut max_rel = 0.0f64;
    for (t, row) in theirs.iter().enumerate() {
        let fmax = row.iter().fold(0.0f64, |a, &b| a.max(b.abs()));
        for (m, &r) in row.iter().enumerate() {
            let o = ours[t * n_mels + m];
            max_abs = max_abs.max((o - r).abs());
            if r.abs() > 1e-8 * fmax && fmax > 0.0 {
                max_rel = max_rel.max((o - r).abs() / r.abs());
            }
        }
    }
    Cmp {
        max_abs_over_peak: if peak > 0.0 { max_abs / peak } else { max_abs },
        max_rel,
    }
}

fn input_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read golden dir")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name().is_some_and(|n| n != "common.json")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn golden_spectrograms() {
    let Some(dir) = golden_dir() else { return };
    let files = input_files(&dir);
    assert!(
        !files.is_empty(),
        "no per-input golden files in {}",
        dir.display()
    );
    let mut checked = 0;
    for file in files {
        let fname = file.file_name().unwrap().to_string_lossy().to_string();
        let v = load(&file);
        let sig = &v["signal"];
        let samples: Vec<f32> = if sig.get("samples").is_some() {
            f64s(&sig["samples"], &fname)
                .into_iter()
                .map(|x| x as f32)
                .collect()
        } else {
            // Real-audio files may be committed without their samples (licence note in the
            // README): decode the source instead when it is used as-is (no resampling).
            let src = &v["source"];
            let path = src["path"]
                .as_str()
                .unwrap_or_else(|| panic!("{fname}: no signal.samples and no source.path"));
            if src["original_sample_rate"].as_u64() != sig["sample_rate"].as_u64() {
                eprintln!("SKIP {fname}: no stored samples and the source needs soxr resampling");
                continue;
            }
            let audio = dir.join("../..").join(path);
            if !audio.is_file() {
                eprintln!(
                    "SKIP {fname}: no stored samples and {} is absent",
                    audio.display()
                );
                continue;
            }
            decode_file(&audio).unwrap().samples
        };
        assert_eq!(
            samples.len() as u64,
            sig["num_samples"].as_u64().expect("num_samples"),
            "{fname}: num_samples"
        );
        let sr = sig["sample_rate"].as_u64().expect("sample_rate") as u32;
        let specs = v["spectrograms"]
            .as_object()
            .unwrap_or_else(|| panic!("{fname}: no spectrograms object"));
        assert!(!specs.is_empty(), "{fname}: no spectrograms");
        for (key, s) in specs {
            let what = format!("{fname}:{key}");
            assert_eq!(
                s["layout"]
                    .as_str()
                    .map(|l| l.starts_with("[frames][mels]")),
                Some(true),
                "{what}: unknown layout"
            );
            let theirs = matrix(&s["data"], &what);
            let num_frames = int(s, "num_frames", &what);
            let stored = int(s, "stored_frames", &what);
            assert_eq!(stored, theirs.len(), "{what}: stored_frames");
            let is_log = s.get("derived_from").is_some();
            let library = if is_log {
                "librosa"
            } else {
                s["library"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: no library"))
            };
            let mut cfg = config_from_params(&s["params"], library, &what);
            assert_eq!(cfg.sample_rate, sr, "{what}: sample rate");
            if is_log {
                assert_eq!(s["log_base"].as_str(), Some("e"), "{what}: log base");
                cfg.log_floor = num(s, "epsilon", &what) as f32;
            }
            let lm = LogMel::new(cfg.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
            let n_mels = cfg.n_mels;
            assert_eq!(int(s, "n_mels", &what), n_mels);
            if is_log {
                let ours = lm.log_mel(&samples).unwrap();
                assert_eq!(ours.frames, num_frames, "{what}: frames");
                // The stored log-mel is ln(M + eps) with eps = 1e-6 as a float64; ours uses the
                // f32 floor, so compare through our f64 power mel with the exact epsilon, and
                // the f32 output with a loose absolute tolerance.
                let eps = num(s, "epsilon", &what);
                let (_, pm) = lm.power_mel_f64(&samples).unwrap();
                let mut max_exact = 0.0f64;
                let mut max_f32 = 0.0f64;
                for (t, row) in theirs.iter().enumerate() {
                    for (m, &r) in row.iter().enumerate() {
                        max_exact = max_exact.max(((pm[t * n_mels + m] + eps).ln() - r).abs());
                        max_f32 = max_f32.max((ours.data[t * n_mels + m] as f64 - r).abs());
                    }
                }
                println!("{what}: log-mel max|diff| f64 {max_exact:.3e}, f32 output {max_f32:.3e}");
                assert!(max_exact < 1e-9, "{what}: log-mel f64 max diff {max_exact}");
                assert!(max_f32 < 1e-4, "{what}: log-mel f32 max diff {max_f32}");
            } else {
                assert_eq!(cfg.log_floor, 1e-6);
                let (frames, ours) = lm.power_mel_f64(&samples).unwrap();
                assert_eq!(frames, num_frames, "{what}: frames");
                assert_eq!(
                    frames,
                    1 + samples.len() / cfg.hop_length,
                    "{what}: frame formula"
                );
                let c = compare_power(&ours, &theirs, n_mels);
                // The f32 output must pass the same bar.
                let ours32 = lm.power_mel(&samples).unwrap();
                let ours32: Vec<f64> = ours32.data.iter().map(|&x| x as f64).collect();
                let c32 = compare_power(&ours32, &theirs, n_mels);
                println!(
                    "{what}: f64 max|diff|/peak {:.3e}, max rel {:.3e}; f32 output max rel {:.3e}",
                    c.max_abs_over_peak, c.max_rel, c32.max_rel
                );
                assert!(c.max_rel < 1e-9, "{what}: f64 max rel {}", c.max_rel);
                assert!(c32.max_rel < 1e-4, "{what}: f32 max rel {}", c32.max_rel);
                assert!(c32.max_abs_over_peak < 1e-6, "{what}: f32 max|diff|/peak");
            }
            checked += 1;
        }
    }
    println!("checked {checked} spectrograms");
    assert!(checked > 0);
}

/// Pearson correlation and RMS error relative to the RMS of `b`.
fn corr_and_rel_rms(a: &[f32], b: &[f32]) -> (f64, f64) {
    let n = a.len().min(b.len()) as f64;
    let ma = a.iter().map(|&x| x as f64).sum::<f64>() / n;
    let mb = b.iter().map(|&x| x as f64).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb, mut se, mut sb2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
        se += (x - y) * (x - y);
        sb2 += y * y;
    }
    (sab / (saa * sbb).sqrt(), (se / sb2).sqrt())
}

#[test]
fn golden_fsdd_decode_and_resample() {
    let Some(dir) = golden_dir() else { return };
    let mut found = false;
    for file in input_files(&dir) {
        let v = load(&file);
        let src = &v["source"];
        if src["kind"].as_str() != Some("file") || src.get("original_samples").is_none() {
            continue;
        }
        found = true;
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let shared = dir.join("../..");
        let audio = shared.join(src["path"].as_str().expect("source.path"));
        if !audio.is_file() {
            eprintln!("SKIP {name}: source audio {} not found", audio.display());
            continue;
        }
        let dec = decode_file(&audio).unwrap();
        let orig: Vec<f32> = f64s(&src["original_samples"], &name)
            .into_iter()
            .map(|x| x as f32)
            .collect();
        assert_eq!(
            dec.sample_rate as u64,
            src["original_sample_rate"].as_u64().unwrap()
        );
        assert_eq!(dec.samples.len(), orig.len(), "{name}: decoded length");
        assert!(
            dec.samples == orig,
            "{name}: decoded samples differ from soundfile's"
        );

        let target = v["signal"]["sample_rate"].as_u64().unwrap() as u32;
        let soxr: Vec<f32> = f64s(&v["signal"]["samples"], &name)
            .into_iter()
            .map(|x| x as f32)
            .collect();
        let ours = resample(&dec.samples, dec.sample_rate, target).unwrap();
        assert_eq!(ours.len(), soxr.len(), "{name}: resampled length");
        let (corr, rel_rms) = corr_and_rel_rms(&ours, &soxr);
        println!(
            "{name}: resampler vs soxr_hq: correlation {corr:.6}, relative RMS error {rel_rms:.3e}"
        );
        assert!(corr > 0.999, "{name}: correlation {corr}");
        assert!(rel_rms < 0.05, "{name}: relative RMS error {rel_rms}");
        // Features from our resampler are close to those from soxr's output.
        let lm = LogMel::new(LogMelConfig::default()).unwrap();
        let a = lm.log_mel(&ours).unwrap();
        let b = lm.log_mel(&soxr).unwrap();
        let mean_abs = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| (x - y).abs() as f64)
            .sum::<f64>()
            / a.data.len() as f64;
        println!("{name}: log-mel mean |diff| (ours vs soxr input) {mean_abs:.3e}");
    }
    assert!(found, "no golden file with a decoded source was found");
}
