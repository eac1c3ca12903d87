//! The two filtering algorithms of the fused kernel, chosen per call: a matrix product over
//! a Hankel view of the waveform (direct, `K` multiply-adds per output and kernel), or
//! overlap-save FFTs (`O(log L)` per output and kernel, see [`super::fft`]).

use realfft::num_complex::Complex;

use super::fft::FftFilter;
use super::kernel::Dims;
use diffres::kernel_support::{matmul, View, ViewMut};

/// How the host kernels filter (for benchmarks and tests; [`HostAlgorithm::Auto`] is the
/// measured choice).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HostAlgorithm {
    /// FFT from [`FFT_MIN_TAPS`] taps on, the matrix product below.
    #[default]
    Auto,
    /// Always the matrix product over the Hankel view of the waveform.
    Gemm,
    /// Always overlap-save FFTs.
    Fft,
}

/// Kernels of at least this many taps are filtered by FFT under [`HostAlgorithm::Auto`]:
/// measured (TD-fbank, 128 kernels, batch 4 x 1 s, 2 threads, `bench_filterbanks --taps`),
/// the matrix product is faster up to 65 taps and the FFT from 129 on (2x at 129, 3-4x at
/// 401).
pub const FFT_MIN_TAPS: usize = 97;

/// Samples per time block of the matrix-product path (`C x 4096` floats of filter output,
/// 2 MB at 128 kernels): long enough for full-speed products, several tasks per 1 s clip.
const GEMM_BLOCK: usize = 4096;

/// One call's filtering.
pub(crate) enum Filter<'a> {
    /// `Y = W H` with the `[C, K]` kernels.
    Gemm(&'a [f32]),
    /// Overlap-save FFTs.
    Fft(FftFilter),
}

/// Kernel-gradient partial sums: `[C, K]` values, or `[C, bins]` spectra (FFT).
pub(crate) enum WeightAcc {
    Taps(Vec<f32>),
    Spectra(Vec<Complex<f32>>),
}

impl WeightAcc {
    /// The sum of two partial sums of the same kind.
    pub fn add(mut self, other: WeightAcc) -> WeightAcc {
        match (&mut self, other) {
            (WeightAcc::Taps(a), WeightAcc::Taps(b)) => {
                a.iter_mut().zip(b).for_each(|(a, b)| *a += b)
            }
            (WeightAcc::Spectra(a), WeightAcc::Spectra(b)) => {
                a.iter_mut().zip(b).for_each(|(a, b)| *a += b)
            }
            _ => unreachable!("partial sums of one call have one kind"),
        }
        self
    }
}

impl<'a> Filter<'a> {
    /// The filtering of `weight` `[C, K]` under `algorithm`.
    pub fn new(dims: &Dims, weight: &'a [f32], algorithm: HostAlgorithm) -> Self {
        let fft = match algorithm {
            HostAlgorithm::Auto => dims.taps >= FFT_MIN_TAPS,
            HostAlgorithm::Gemm => false,
            HostAlgorithm::Fft => true,
        };
        if fft {
            Filter::Fft(FftFilter::new(dims.channels, dims.taps, weight))
        } else {
            Filter::Gemm(weight)
        }
    }

    /// Samples per task: about 4096, whole FFT blocks for the FFT.
    pub fn block(&self) -> usize {
        match self {
            Filter::Gemm(_) => GEMM_BLOCK,
            Filter::Fft(f) => {
                f.valid() * (GEMM_BLOCK as f64 / f.valid() as f64).round().max(1.0) as usize
            }
        }
    }

    /// Filter outputs `[C, l]` on samples `s0 .. s0 + l` of the padded clip `xp`.
    pub fn outputs(&self, dims: &Dims, xp: &[f32], s0: usize, l: usize) -> Vec<f32> {
        match self {
            Filter::Gemm(weight) => {
                let (c, k) = (dims.channels, dims.taps);
                let mut y = vec![0.0f32; c * l];
                matmul(
                    (c, l, k),
                    ViewMut::new(&mut y, 0, l, 1),
                    View::new(weight, 0, k, 1),
                    View::new(xp, s0, 1, 1),
                    false,
                    // One thread: the callers parallelise over clips and time blocks.
                    1,
                );
                y
            }
            Filter::Fft(f) => f.outputs(xp, s0, l),
        }
    }

    /// An empty kernel-gradient partial sum.
    pub fn weight_acc(&self, dims: &Dims) -> WeightAcc {
        match self {
            Filter::Gemm(_) => WeightAcc::Taps(vec![0.0; dims.channels * dims.taps]),
            Filter::Fft(f) => {
                WeightAcc::Spectra(vec![Complex::new(0.0, 0.0); dims.channels * f.bins()])
            }
        }
    }

    /// The backward pass of [`Filter::outputs`] for `dy` `[C, l]`: adds to the kernel
    /// gradient (when `acc` is given) and returns the gradient of the padded samples
    /// `s0 .. s0 + l + K - 1` (when `want_x`).
    pub fn backward(
        &self,
        dims: &Dims,
        xp: &[f32],
        (s0, l): (usize, usize),
        dy: &[f32],
        acc: Option<&mut WeightAcc>,
        want_x: bool,
    ) -> Option<Vec<f32>> {
        let (c, k) = (dims.channels, dims.taps);
        match self {
            Filter::Gemm(weight) => {
                if let Some(WeightAcc::Taps(acc)) = acc {
                    // dW += dY H^T, H^T[j, k] = xp[s0 + j + k].
                    matmul(
                        (c, k, l),
                        ViewMut::new(acc, 0, k, 1),
                        View::new(dy, 0, l, 1),
                        View::new(xp, s0, 1, 1),
                        true,
                        // One thread: the callers parallelise over clips and time blocks.
                        1,
                    );
                }
                want_x.then(|| {
                    // Z = W^T dY; Z[k, j] is the gradient of padded sample s0 + j + k.
                    let mut z = vec![0.0f32; k * l];
                    matmul(
                        (k, l, c),
                        ViewMut::new(&mut z, 0, l, 1),
                        View::new(weight, 0, 1, k),
                        View::new(dy, 0, l, 1),
                        false,
                        // One thread: the callers parallelise over clips and time blocks.
                        1,
                    );
                    let mut dx = vec![0.0f32; l + k - 1];
                    diffres::kernel_support::vectorized(|| {
                        for (kk, row) in z.chunks(l).enumerate() {
                            for (d, &v) in dx[kk..kk + l].iter_mut().zip(row) {
                                *d += v;
                            }
                        }
                    });
                    dx
                })
            }
            Filter::Fft(f) => {
                let spectra = match acc {
                    Some(WeightAcc::Spectra(s)) => Some(s.as_mut_slice()),
                    _ => None,
                };
                f.backward(xp, s0, l, dy, spectra, want_x)
            }
        }
    }

    /// The `[C, K]` kernel gradient from the summed partial sums.
    pub fn weight_grad(&self, acc: WeightAcc) -> Vec<f32> {
        match (self, acc) {
            (_, WeightAcc::Taps(v)) => v,
            (Filter::Fft(f), WeightAcc::Spectra(mut s)) => f.weight_grad(&mut s),
            (Filter::Gemm(_), WeightAcc::Spectra(_)) => unreachable!("spectra come from the FFT"),
        }
    }
}
