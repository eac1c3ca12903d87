//! Band-limited resampling with `rubato`.

use rubato::{FftFixedIn, Resampler};

use crate::decode::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
use crate::error::{AudioError, Result};

/// Input chunk size handed to the FFT resampler.
const CHUNK: usize = 1024;

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Number of output samples for `n` input samples: `ceil(n * to / from)`, as
/// `librosa.resample(..., fix=True)` produces.
pub fn resampled_len(n: usize, from_hz: u32, to_hz: u32) -> usize {
    let num = n as u128 * to_hz as u128;
    num.div_ceil(from_hz as u128) as usize
}

/// Resample mono `samples` from `from_hz` to `to_hz`.
///
/// Uses rubato's synchronous FFT resampler ([`rubato::FftFixedIn`], f64 internally) and removes
/// its delay, so that output sample `j` lines up with time `j / to_hz` of the input. The output
/// has `ceil(len * to_hz / from_hz)` samples (librosa's `fix=True` length). Equal rates return a
/// copy; an empty input gives an empty output.
///
/// Both rates must lie in [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`]. That bounds the
/// resampler's block (at most `2 * max(from, to) / gcd(from, to)` input samples, i.e. under
/// 800 k samples, a few tens of MB of FFT state) whatever the ratio; beyond it a coprime pair
/// such as 4,294,967,295 -> 16,000 Hz would need blocks of billions of samples. Besides that
/// state, memory is the input plus the `f32` output.
pub fn resample(samples: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>> {
    let range = MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE;
    if !range.contains(&from_hz) || !range.contains(&to_hz) {
        return Err(AudioError::Resample(format!(
            "sample rates must be in {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz \
             (from {from_hz} Hz to {to_hz} Hz)"
        )));
    }
    if from_hz == to_hz || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let target = resampled_len(samples.len(), from_hz, to_hz);
    // rubato processes blocks of `m * from / gcd` input samples. Its reported delay
    // (half the output block) is exact only when both block sizes are even, otherwise the
    // output is shifted by half an input sample (e.g. 44.1 -> 16 kHz), so `m` is made even.
    let g = gcd(from_hz as usize, to_hz as usize);
    let min_in = from_hz as usize / g;
    let m = CHUNK.div_ceil(min_in).next_multiple_of(2);
    let mut rs = FftFixedIn::<f64>::new(from_hz as usize, to_hz as usize, m * min_in, 1, 1)
        .map_err(|e| AudioError::Resample(e.to_string()))?;
    // The first `delay` output samples are dropped as they come and the rest converted to f32
    // at once, so the output is never held in f64 (that would double peak memory).
    let mut skip = rs.output_delay();
    let mut out: Vec<f32> = Vec::with_capacity(target);
    let mut inbuf = vec![0.0f64; rs.input_frames_max()];
    let mut outbuf = rs.output_buffer_allocate(true);
    let mut pos = 0usize;
    while out.len() < target {
        let n_in = rs.input_frames_next();
        let chunk = &mut inbuf[..n_in];
        chunk.fill(0.0);
        if pos < samples.len() {
            let take = n_in.min(samples.len() - pos);
            for (d, s) in chunk.iter_mut().zip(&samples[pos..pos + take]) {
                *d = *s as f64;
            }
            pos += take;
        }
        let (_, n_out) = rs
            .process_into_buffer(&[&inbuf[..n_in]], &mut outbuf, None)
            .map_err(|e| AudioError::Resample(e.to_string()))?;
        let block = &outbuf[0][..n_out];
        let dropped = skip.min(block.len());
        skip -= dropped;
        let take = (target - out.len()).min(block.len() - dropped);
        out.extend(block[dropped..dropped + take].iter().map(|&x| x as f32));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(f: f64, sr: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (0.5 * (2.0 * std::f64::consts::PI * f * i as f64 / sr as f64).sin()) as f32)
            .collect()
    }

    #[test]
    fn sine_survives_common_ratios() {
        for (from, to) in [
            (8_000, 16_000),
            (44_100, 16_000),
            (22_050, 16_000),
            (11_025, 16_000),
            (16_000, 22_050),
            (48_000, 16_000),
            (8_001, 16_000),
        ] {
            let n = from as usize / 2;
            let x = sine(1000.0, from, n);
            let y = resample(&x, from, to).unwrap();
            assert_eq!(y.len(), resampled_len(n, from, to));
            let expect = sine(1000.0, to, y.len());
            // Interior (away from the zero-padded edges): no delay, no gain change.
            let (a, b) = (y.len() / 10, y.len() * 9 / 10);
            let err = y[a..b]
                .iter()
                .zip(&expect[a..b])
                .map(|(p, q)| (p - q).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 1e-3, "{from} -> {to}: max interior error {err}");
        }
    }

    #[test]
    fn edge_cases() {
        assert_eq!(resample(&[], 8_000, 16_000).unwrap(), Vec::<f32>::new());
        assert_eq!(
            resample(&[0.1, 0.2], 16_000, 16_000).unwrap(),
            vec![0.1, 0.2]
        );
        assert_eq!(resample(&[0.5], 8_000, 16_000).unwrap().len(), 2);
        assert!(resample(&[0.5], 0, 16_000).is_err());
        assert!(resample(&[0.5], 16_000, 0).is_err());
        // Outside the supported range (the rates that made memory explode before).
        for (from, to) in [
            (1, 16_000),
            (999, 16_000),
            (u32::MAX, 16_000),
            (16_000, 384_001),
        ] {
            let e = resample(&[0.5; 10], from, to).unwrap_err();
            assert!(e.to_string().contains("1000..=384000"), "{from}->{to}: {e}");
        }
        assert_eq!(resampled_len(2384, 8_000, 16_000), 4768);
        assert_eq!(resampled_len(3, 16_000, 8_000), 2);
    }
}
