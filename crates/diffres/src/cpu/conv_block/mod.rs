//! Forward and backward of one [`crate::ResConv1d`] block on the host, for Burn's flex CPU
//! backend: `h1 = BN1(relu(conv1(x m)))`, `out = h1 + BN2(relu(conv2(h1 m)))`, with `m` the
//! valid-frame mask.
//!
//! Why: Burn composes this block from ~20 tensor operations, each a pass over memory, with
//! convolutions whose backward runs at a fraction of the machine's speed. Here each convolution
//! is `kernel` strided matrix products per sample (no unfolded copy), the bias, ReLU and batch
//! norm are fused into the passes around them, the batch is split over the rayon pool, and
//! the backward computes only the gradients the graph asks for.
//!
//! Layout: activations are `[B, C, T]` row-major; weights are Burn's `[C_out, C_in, K]`.
//! Batch statistics are those of Burn's `batch_norm_train`: mean and biased variance over
//! `B T` (padding included), summed in `f64`.
//!
//! Files: `forward.rs` (the inference and training passes), `backward.rs`, `conv.rs` (the
//! convolutions as strided matrix products over a zero-padded copy of each sample) and
//! `norm.rs` (batch statistics, the normalisation and its backward). Sums over the batch are
//! merged in sample order, so results do not depend on the thread count.

mod backward;
mod conv;
mod forward;
mod norm;

pub(crate) use backward::backward;
pub(crate) use forward::{forward_inference, forward_train};
pub(crate) use norm::Affine;

/// Sizes of a block.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockDims {
    pub batch: usize,
    pub channels_in: usize,
    pub channels_out: usize,
    pub frames: usize,
    pub kernel: usize,
    pub dilation: usize,
}

impl BlockDims {
    fn pad(&self) -> usize {
        self.dilation * (self.kernel - 1) / 2
    }

    fn padded(&self) -> usize {
        self.frames + 2 * self.pad()
    }

    /// Threads each sample's matrix products may use: all of them when there are fewer samples
    /// than threads, else one (the samples are spread over the threads instead).
    fn inner_threads(&self) -> usize {
        let threads = rayon::current_num_threads();
        if self.batch < threads {
            threads
        } else {
            1
        }
    }
}

/// The block's parameters, copied to the host.
#[derive(Clone, Debug)]
pub(crate) struct Weights {
    pub conv1: Vec<f32>,
    pub bias1: Vec<f32>,
    pub gamma1: Vec<f32>,
    pub beta1: Vec<f32>,
    pub conv2: Vec<f32>,
    pub bias2: Vec<f32>,
    pub gamma2: Vec<f32>,
    pub beta2: Vec<f32>,
}

/// What the training forward pass keeps for the backward pass.
pub(crate) struct Saved {
    pub relu1: Vec<f32>,
    pub relu2: Vec<f32>,
    pub norm1: Affine,
    pub norm2: Affine,
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saved")
            .field("relu1", &self.relu1.len())
            .field("relu2", &self.relu2.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::strided::Strided3;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    /// Gradients are merged in sample order: the same bits on 1 thread as on 3.
    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let dims = BlockDims {
            batch: 5,
            channels_in: 4,
            channels_out: 3,
            frames: 40,
            kernel: 5,
            dilation: 2,
        };
        let weights = Weights {
            conv1: values(3 * 4 * 5, 1),
            bias1: values(3, 2),
            gamma1: values(3, 3),
            beta1: values(3, 4),
            conv2: values(3 * 3 * 5, 5),
            bias2: values(3, 6),
            gamma2: values(3, 7),
            beta2: values(3, 8),
        };
        let x = values(5 * 4 * 40, 9);
        let mask: Vec<f32> = (0..5 * 40).map(|i| (i % 40 < 30) as u8 as f32).collect();
        let grad = values(5 * 3 * 40, 10);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let input = Strided3::contiguous(&x, 4, 40);
                let trained = forward_train(&dims, &weights, [1e-5, 1e-5], input, Some(&mask));
                let g = backward(
                    &dims,
                    &weights,
                    &trained.saved,
                    input,
                    Some(&mask),
                    &grad,
                    true,
                );
                (
                    trained.out,
                    g.input.unwrap(),
                    g.params.conv1,
                    g.params.conv2,
                    g.params.gamma1,
                    g.params.bias2,
                )
            })
        };
        assert!(run(1) == run(3));
    }
}
