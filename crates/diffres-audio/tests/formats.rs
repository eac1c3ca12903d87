//! Every supported format decodes to the same samples (fixtures made with sox / ffmpeg,
//! see `tests/fixtures/README.md`).

use std::path::PathBuf;

use diffres_audio::{decode_file, load_audio, LogMel, LogMelConfig};

const SR: u32 = 16_000;
const N: usize = 1600;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}

/// The reference mono tone: `0.5 sin(2 pi 440 t) + 0.25 sin(2 pi 1000 t)`, 0.1 s at 16 kHz.
fn tone() -> Vec<f32> {
    (0..N)
        .map(|i| {
            let t = i as f64 / SR as f64;
            (0.5 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()
                + 0.25 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as f32
        })
        .collect()
}

/// Right channel of the stereo fixtures: `0.4 sin(2 pi 660 t)`.
fn right() -> Vec<f32> {
    (0..N)
        .map(|i| {
            let t = i as f64 / SR as f64;
            (0.4 * (2.0 * std::f64::consts::PI * 660.0 * t).sin()) as f32
        })
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Peak of the cross-correlation `sum_i a[i] b[i + lag]` over lags `-max_lag..=max_lag`,
/// normalised by the full energy of `a` and the energy of the overlapping part of `b` (scale
/// invariant, so LAME's 0.95 gain does not count; a partial overlap cannot score high), and
/// its lag.
fn xcorr_peak(a: &[f32], b: &[f32], max_lag: isize) -> (f64, isize) {
    let saa: f64 = a.iter().map(|&x| (x as f64).powi(2)).sum();
    let mut best = (f64::MIN, 0);
    for lag in -max_lag..=max_lag {
        let (mut sab, mut sbb) = (0.0f64, 0.0f64);
        for (i, &x) in a.iter().enumerate() {
            let j = i as isize + lag;
            if j < 0 || j as usize >= b.len() {
                continue;
            }
            let y = b[j as usize] as f64;
            sab += x as f64 * y;
            sbb += y * y;
        }
        if sbb > 0.0 {
            let c = sab / (saa * sbb).sqrt();
            if c > best.0 {
                best = (c, lag);
            }
        }
    }
    best
}

#[test]
fn lossless_formats_match_reference() {
    let reference = tone();
    // (file, bits of the integer format or 0 for float)
    let cases = [
        ("tone_u8.wav", 8u32),
        ("tone_s16.wav", 16),
        ("tone_s24.wav", 24),
        ("tone_s32.wav", 32),
        ("tone_f32.wav", 0),
        ("tone_f64.wav", 0),
        ("tone_s16.flac", 16),
    ];
    for (name, bits) in cases {
        let d = decode_file(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.sample_rate, SR, "{name}");
        assert_eq!(d.channels, 1, "{name}");
        assert_eq!(d.samples.len(), N, "{name}: length");
        // One quantisation step (rounding gives at most half of it) plus f32 rounding.
        let tol = if bits == 0 {
            1e-6
        } else {
            1.0 / (1u64 << (bits - 1)) as f32 + 1e-7
        };
        let e = max_abs_diff(&d.samples, &reference);
        println!("{name}: max |decoded - reference| = {e:.3e} (tolerance {tol:.3e})");
        assert!(e <= tol, "{name}: max diff {e} > {tol}");
    }
}

#[test]
fn stereo_is_downmixed_to_the_mean() {
    let (l, r) = (tone(), right());
    let expected: Vec<f32> = l.iter().zip(&r).map(|(a, b)| (a + b) / 2.0).collect();
    let d = decode_file(&fixture("stereo_s16.wav")).unwrap();
    assert_eq!((d.channels, d.samples.len()), (2, N));
    let e = max_abs_diff(&d.samples, &expected);
    assert!(e <= 1.0 / 32768.0 + 1e-7, "stereo wav max diff {e}");

    let d = decode_file(&fixture("stereo.ogg")).unwrap();
    assert_eq!(d.channels, 2);
    let (c, lag) = xcorr_peak(&expected, &d.samples, 1200);
    println!(
        "stereo.ogg: {} samples, xcorr peak {c:.4} at lag {lag}",
        d.samples.len()
    );
    assert!(c > 0.95, "stereo.ogg: xcorr {c}");
}

#[test]
fn lossy_formats_correlate_with_reference() {
    let reference = tone();
    for name in ["tone.ogg", "tone.mp3"] {
        let d = decode_file(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.sample_rate, SR, "{name}");
        assert_eq!(d.channels, 1, "{name}");
        let (c, lag) = xcorr_peak(&reference, &d.samples, 1200);
        // SNR at the best alignment, over the overlap.
        let (mut sig, mut err) = (0.0f64, 0.0f64);
        for (i, &x) in reference.iter().enumerate() {
            let j = i as isize + lag;
            if j >= 0 && (j as usize) < d.samples.len() {
                sig += (x as f64).powi(2);
                err += (x as f64 - d.samples[j as usize] as f64).powi(2);
            }
        }
        let snr = 10.0 * (sig / err).log10();
        println!(
            "{name}: {} samples decoded, xcorr peak {c:.4} at lag {lag}, SNR {snr:.1} dB",
            d.samples.len()
        );
        assert!(c > 0.99, "{name}: xcorr {c}");
        // Gapless decoding (LAME/Xing info for MP3, granule positions for Vorbis): no delay.
        assert_eq!(lag, 0, "{name}: decoder delay not removed");
        // Features agree too: mean |log-mel diff| over the interior frames is small.
        let lm = LogMel::new(LogMelConfig::default()).unwrap();
        let a = lm.log_mel(&reference).unwrap();
        let aligned: Vec<f32> = (0..N)
            .map(|i| {
                let j = i as isize + lag;
                if j >= 0 && (j as usize) < d.samples.len() {
                    d.samples[j as usize]
                } else {
                    0.0
                }
            })
            .collect();
        let b = lm.log_mel(&aligned).unwrap();
        // Energy per frame (sum over mels of exp(log-mel)) within 1 dB on interior frames.
        for t in 2..a.frames - 2 {
            let ea: f64 = a.frame(t).iter().map(|&v| (v as f64).exp()).sum();
            let eb: f64 = b.frame(t).iter().map(|&v| (v as f64).exp()).sum();
            let db = 10.0 * (eb / ea).log10();
            assert!(
                db.abs() < 1.0,
                "{name}: frame {t} energy differs by {db:.2} dB"
            );
        }
    }
}

#[test]
fn all_formats_load_and_resample() {
    for name in [
        "tone_u8.wav",
        "tone_s16.wav",
        "tone_s24.wav",
        "tone_s32.wav",
        "tone_f32.wav",
        "tone_s16.flac",
        "tone.ogg",
        "tone.mp3",
        "stereo_s16.wav",
        "stereo.ogg",
    ] {
        let p = fixture(name);
        let d = decode_file(&p).unwrap();
        let same = load_audio(&p, SR).unwrap();
        assert_eq!(same, d.samples, "{name}: no-op resample");
        let down = load_audio(&p, 8_000).unwrap();
        assert_eq!(
            down.len(),
            d.samples.len().div_ceil(2),
            "{name}: 8 kHz length"
        );
        let up = load_audio(&p, 22_050).unwrap();
        assert_eq!(
            up.len(),
            (d.samples.len() * 22_050).div_ceil(16_000),
            "{name}: 22.05 kHz length"
        );
    }
}
