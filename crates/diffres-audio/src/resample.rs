//! Band-limited resampling with `rubato`.

use rubato::{FftFixedIn, Resampler};

use crate::error::{AudioError, Result};

/// Input chunk size handed to the FFT resampler.
const CHUNK: usize = 1024;

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
pub fn resample(samples: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>> {
    if from_hz == 0 || to_hz == 0 {
        return Err(AudioError::Resample(format!(
            "sample rates must be positive (from {from_hz} Hz to {to_hz} Hz)"
        )));
    }
    if from_hz == to_hz || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let target = resampled_len(samples.len(), from_hz, to_hz);
    let mut rs = FftFixedIn::<f64>::new(from_hz as usize, to_hz as usize, CHUNK, 1, 1)
        .map_err(|e| AudioError::Resample(e.to_string()))?;
    let delay = rs.output_delay();
    let need = delay + target;
    let mut out: Vec<f64> = Vec::with_capacity(need + rs.output_frames_max());
    let mut inbuf = vec![vec![0.0f64; rs.input_frames_max()]];
    let mut outbuf = rs.output_buffer_allocate(true);
    let mut pos = 0usize;
    while out.len() < need {
        let n_in = rs.input_frames_next();
        let chunk = &mut inbuf[0][..n_in];
        chunk.fill(0.0);
        if pos < samples.len() {
            let take = n_in.min(samples.len() - pos);
            for (d, s) in chunk.iter_mut().zip(&samples[pos..pos + take]) {
                *d = *s as f64;
            }
            pos += take;
        }
        let (_, n_out) = rs
            .process_into_buffer(&[&inbuf[0][..n_in]], &mut outbuf, None)
            .map_err(|e| AudioError::Resample(e.to_string()))?;
        out.extend_from_slice(&outbuf[0][..n_out]);
    }
    Ok(out[delay..need].iter().map(|&x| x as f32).collect())
}
