//! Host kernels for Burn's flex CPU backend.
//!
//! The layer is written with Burn tensor operations, which run on every backend (flex, wgpu,
//! vulkan). On flex those operations are each a pass over memory, and the importance network's
//! convolutions run well below the machine's speed. For the two hot spots, the
//! [`crate::ResConv1d`] block and the warp, this module has fused host implementations with
//! hand-written backward passes, registered as custom operations in Burn's autodiff graph.
//! They are used automatically when the tensors live on flex (with or without autodiff); any
//! other backend, and the cases the kernels do not cover (a frozen batch norm under autodiff,
//! non-`f32` data), take the portable tensor-operation path. Both paths compute the same
//! function: unit tests compare their values and gradients.

pub(crate) mod conv_block;
pub(crate) mod conv_block_op;
pub(crate) mod fastmath;
pub(crate) mod flex;
pub(crate) mod matmul;
pub(crate) mod strided;
pub(crate) mod warp_kernel;
pub(crate) mod warp_op;
