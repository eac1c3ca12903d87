//! What the three front ends share: the mel scale, the frame convention, config checks, the
//! "same"-padded filtering and pooling convolutions.

use burn::prelude::*;
use burn::tensor::module::conv1d;
use burn::tensor::ops::ConvOptions;

use crate::error::{FilterbankError, Result};

/// HTK mel scale: `2595 log10(1 + hz / 700)` (the scale of LEAF's and TensorFlow's
/// `linear_to_mel_weight_matrix`, the same as `1127 ln(1 + hz / 700)`).
pub fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

/// Inverse of [`hz_to_mel`]: `700 (10^(mel / 2595) - 1)`.
pub fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// `count` frequencies (Hz) equally spaced on the HTK mel scale from `min_hz` to `max_hz`,
/// both included (`count >= 2`; one point gives `[min_hz]`).
pub fn mel_points(count: usize, min_hz: f64, max_hz: f64) -> Vec<f64> {
    let (lo, hi) = (hz_to_mel(min_hz), hz_to_mel(max_hz));
    let steps = count.saturating_sub(1).max(1) as f64;
    (0..count)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / steps))
        .collect()
}

/// One triangular mel filter of a power spectrum, triangular on the mel axis (as TensorFlow's
/// `linear_to_mel_weight_matrix`, which LEAF's initialisation imitates), peak 1 at the centre.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MelTriangle {
    /// Lower edge (response 0), Hz.
    pub low_hz: f64,
    /// Centre (response 1), Hz.
    pub centre_hz: f64,
    /// Upper edge (response 0), Hz.
    pub high_hz: f64,
}

impl MelTriangle {
    /// The power response at `hz`: linear in mel from 0 at the edges to 1 at the centre.
    pub fn response(&self, hz: f64) -> f64 {
        let (l, c, h, m) = (
            hz_to_mel(self.low_hz),
            hz_to_mel(self.centre_hz),
            hz_to_mel(self.high_hz),
            hz_to_mel(hz.max(0.0)),
        );
        if m <= l || m >= h {
            0.0
        } else if m <= c {
            (m - l) / (c - l)
        } else {
            (h - m) / (h - c)
        }
    }

    /// Full width at half maximum (Hz) of the *amplitude* response `sqrt(response)`, i.e. the
    /// distance between the two frequencies where the power response is 1/4 (LEAF matches its
    /// Gabor filters to this width).
    pub fn amplitude_fwhm_hz(&self) -> f64 {
        let (l, c, h) = (
            hz_to_mel(self.low_hz),
            hz_to_mel(self.centre_hz),
            hz_to_mel(self.high_hz),
        );
        mel_to_hz(c + 0.75 * (h - c)) - mel_to_hz(c - 0.75 * (c - l))
    }
}

/// `filters` mel triangles between `min_hz` and `max_hz`: `filters + 2` mel-spaced points,
/// triangle `i` spans points `i .. i + 2` and peaks at point `i + 1`.
pub fn mel_triangles(filters: usize, min_hz: f64, max_hz: f64) -> Vec<MelTriangle> {
    let p = mel_points(filters + 2, min_hz, max_hz);
    (0..filters)
        .map(|i| MelTriangle {
            low_hz: p[i],
            centre_hz: p[i + 1],
            high_hz: p[i + 2],
        })
        .collect()
}

/// Output frames for `samples` input samples at `hop`: `ceil(samples / hop)` ("same" padding;
/// frame `t` is centred on sample `t * hop`).
pub fn output_frames(samples: usize, hop: usize) -> usize {
    samples.div_ceil(hop.max(1))
}

/// Gabor parameters `(centre in radians per sample, time-domain standard deviation in samples)`
/// matching a mel triangle: same peak frequency, and the Gabor amplitude FWHM
/// `2 sqrt(2 ln 2) / sigma` equal to [`MelTriangle::amplitude_fwhm_hz`].
pub fn gabor_params(tri: &MelTriangle, sample_rate: f64) -> (f64, f64) {
    let mu = 2.0 * std::f64::consts::PI * tri.centre_hz / sample_rate;
    let sigma =
        (2.0 * 2f64.ln()).sqrt() * sample_rate / (std::f64::consts::PI * tri.amplitude_fwhm_hz());
    (mu, sigma)
}

/// LEAF's bounds on a Gabor filter's standard deviation (samples) for a kernel of `kernel_size`
/// taps: the frequency FWHM stays between `2 sqrt(2 ln 2) / (kernel_size sqrt(2 ln 2)/pi)` and
/// `pi / 2`, i.e. `sigma` in `[4 sqrt(2 ln 2) / pi, kernel_size sqrt(2 ln 2) / pi]`.
pub fn gabor_sigma_bounds(kernel_size: usize) -> (f64, f64) {
    let c = (2.0 * 2f64.ln()).sqrt() / std::f64::consts::PI;
    (4.0 * c, kernel_size as f64 * c)
}

/// Symmetric Hann window of `len` taps with peak 1 (`0.5 - 0.5 cos(2 pi k / (len - 1))`; a
/// single tap is `[1]`).
pub fn hann_window(len: usize) -> Vec<f32> {
    if len <= 1 {
        return vec![1.0; len];
    }
    (0..len)
        .map(|k| {
            (0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / (len - 1) as f64).cos()) as f32
        })
        .collect()
}

/// Checks shared by all configs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_config(
    filters: usize,
    sample_rate: usize,
    kernel_size: usize,
    hop: usize,
    pool_size: usize,
    min_freq: f64,
    max_freq: f64,
) -> Result<()> {
    if filters == 0 {
        return Err(FilterbankError::config("filters", "must be at least 1"));
    }
    if sample_rate == 0 {
        return Err(FilterbankError::config("sample_rate", "must be at least 1"));
    }
    if kernel_size < 3 || kernel_size.is_multiple_of(2) {
        return Err(FilterbankError::config(
            "kernel_size",
            format!("must be odd and at least 3 (got {kernel_size})"),
        ));
    }
    if hop == 0 {
        return Err(FilterbankError::config("hop", "must be at least 1"));
    }
    if pool_size == 0 || pool_size.is_multiple_of(2) {
        return Err(FilterbankError::config(
            "pool_size",
            format!("must be odd and at least 1 (got {pool_size})"),
        ));
    }
    let nyquist = sample_rate as f64 / 2.0;
    if !(min_freq.is_finite() && min_freq >= 0.0) {
        return Err(FilterbankError::config(
            "min_freq",
            format!("must be finite and >= 0 Hz (got {min_freq})"),
        ));
    }
    if !(max_freq.is_finite() && max_freq > min_freq && max_freq <= nyquist) {
        return Err(FilterbankError::config(
            "max_freq",
            format!("must be in (min_freq = {min_freq}, sample_rate / 2 = {nyquist}] Hz (got {max_freq})"),
        ));
    }
    Ok(())
}

/// Checks a positive, finite float config value.
pub(crate) fn check_positive(field: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(FilterbankError::config(
            field,
            format!("must be finite and > 0 (got {value})"),
        ))
    }
}

/// The waveform batch's `[B, N]`, both at least 1.
pub(crate) fn check_waveform(x: &Tensor<2>) -> Result<[usize; 2]> {
    let [batch, samples] = x.dims();
    if batch == 0 || samples == 0 {
        return Err(FilterbankError::Input(format!(
            "waveform must be [B, N] with B >= 1 and N >= 1 (got [{batch}, {samples}])"
        )));
    }
    Ok([batch, samples])
}

/// Stride-1 "same" convolution of the waveform `[B, N]` with `weight: [C, 1, K]` (`K` odd):
/// output `[B, C, N]`, sample `n` of channel `c` is `sum_k weight[c, k] x[n + k - (K-1)/2]`
/// with zeros outside the clip.
pub(crate) fn filter_same(x: Tensor<2>, weight: Tensor<3>) -> Tensor<3> {
    let k = weight.dims()[2];
    let pad = (k - 1) / 2;
    conv1d(
        x.unsqueeze_dim(1),
        weight,
        None,
        ConvOptions {
            stride: [1],
            padding: [(pad, pad)],
            dilation: [1],
            groups: 1,
        },
    )
}

/// Lowpass pooling of `power: [B, C, N]` with `window: [C, 1, K]` (one window per channel) or
/// `[1, 1, K]` (one shared window), stride `hop`: output `[B, C, ceil(N / hop)]`, frame `t`
/// centred on sample `t * hop` (`(K - 1) / 2` zeros on the left, as many as needed on the right).
pub(crate) fn pool_same(power: Tensor<3>, window: Tensor<3>, hop: usize) -> Tensor<3> {
    let [batch, channels, samples] = power.dims();
    let k = window.dims()[2];
    let frames = output_frames(samples, hop);
    let left = (k - 1) / 2;
    let right = ((frames - 1) * hop + k).saturating_sub(left + samples);
    let options = |groups| ConvOptions {
        stride: [hop],
        padding: [(left, right)],
        dilation: [1],
        groups,
    };
    let out_len = (samples + left + right - k) / hop + 1;
    let pooled = if window.dims()[0] == 1 {
        conv1d(
            power.reshape([batch * channels, 1, samples]),
            window,
            None,
            options(1),
        )
        .reshape([batch, channels, out_len])
    } else {
        conv1d(power, window, None, options(channels))
    };
    pooled.narrow(2, 0, frames)
}

/// Filter energies `[B, F, ceil(N / hop)]`: `filter_same(x, weight)` squared (with `complex`,
/// the squared modulus of the pairs of rows `c` and `F + c` of the `[2 F, 1, K]` kernels),
/// then `pool_same` with `window` (`[F, 1, P]` or `[1, 1, P]`).
///
/// On flex (with or without autodiff) one fused host operation computes it (see `crate::cpu`);
/// elsewhere, or with [`crate::use_host_kernels`] off, the portable Burn operations below.
pub(crate) fn energies(
    x: Tensor<2>,
    weight: Tensor<3>,
    window: Tensor<3>,
    hop: usize,
    complex: bool,
) -> Tensor<3> {
    if let Some(out) = crate::cpu::op::energies(&x, &weight, &window, hop, complex) {
        return out;
    }
    let y = filter_same(x, weight);
    let power = if complex {
        let f = y.dims()[1] / 2;
        y.clone().narrow(1, 0, f).powi_scalar(2) + y.narrow(1, f, f).powi_scalar(2)
    } else {
        y.powi_scalar(2)
    };
    pool_same(power, window, hop)
}

/// A `[1, len]` tensor of sample offsets `-(len-1)/2 ..= (len-1)/2` (as f32).
pub(crate) fn centred_taps(len: usize, device: &Device) -> Tensor<2> {
    let half = (len as i64 - 1) / 2;
    let taps: Vec<f32> = (0..len as i64).map(|k| (k - half) as f32).collect();
    Tensor::<2>::from_data(TensorData::new(taps, [1, len]), device)
}

/// A `[1, 1, len]` Hann window tensor.
pub(crate) fn hann_tensor(len: usize, device: &Device) -> Tensor<3> {
    Tensor::<3>::from_data(TensorData::new(hann_window(len), [1, 1, len]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htk_mel_scale_known_values() {
        // 1000 Hz is (almost exactly) 1000 HTK mel; 700 Hz is 2595 log10(2) mel.
        assert!((hz_to_mel(1000.0) - 999.9855).abs() < 1e-3);
        assert!((hz_to_mel(700.0) - 2595.0 * 2f64.log10()).abs() < 1e-9);
        for hz in [0.0, 60.0, 440.0, 7800.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
        let p = mel_points(5, 60.0, 7800.0);
        assert!((p[0] - 60.0).abs() < 1e-9 && (p[4] - 7800.0).abs() < 1e-9);
        let d: Vec<f64> = p
            .windows(2)
            .map(|w| hz_to_mel(w[1]) - hz_to_mel(w[0]))
            .collect();
        assert!(d.iter().all(|x| (x - d[0]).abs() < 1e-9));
    }

    #[test]
    fn frame_count_is_ceil() {
        assert_eq!(output_frames(16000, 160), 100);
        assert_eq!(output_frames(16001, 160), 101);
        assert_eq!(output_frames(1, 160), 1);
        assert_eq!(output_frames(160, 160), 1);
    }

    #[test]
    fn triangle_response_and_width() {
        let t = mel_triangles(3, 100.0, 4000.0)[1];
        assert!((t.response(t.centre_hz) - 1.0).abs() < 1e-12);
        assert_eq!(t.response(t.low_hz), 0.0);
        let half = t.amplitude_fwhm_hz();
        // The quarter-power points are `half` apart.
        let lo = mel_to_hz(
            hz_to_mel(t.centre_hz) - 0.75 * (hz_to_mel(t.centre_hz) - hz_to_mel(t.low_hz)),
        );
        assert!((t.response(lo) - 0.25).abs() < 1e-9);
        assert!((t.response(lo + half) - 0.25).abs() < 1e-9);
    }
}
