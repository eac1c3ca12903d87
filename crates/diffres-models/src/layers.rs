//! How the classifiers run their convolutions and batch norms: through the flex host kernels
//! of [`crate::cpu`] where they apply, through the Burn modules otherwise. Parameters stay in
//! the modules (names and shapes unchanged, so checkpoints load either way).

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid, silu};
use burn::tensor::module;
use burn::tensor::ops::AvgPoolOptions;

use crate::cpu::geometry::ConvDims;
pub(crate) use crate::cpu::norm_act::Activation;
use diffres::kernel_support::NormParams;

use crate::cpu::ops::{self, ConvKind};
use crate::cpu::pool::PoolDims;
use crate::cpu::squeeze_excite::ExciteDims;

/// `conv.forward(x)`.
///
/// # Shapes
/// - `x`: `[B, C_in, H, W]`; output `[B, C_out, H_out, W_out]`
pub(crate) fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    match fast_conv2d(conv, &x) {
        Some(y) => y,
        None => conv.forward(x),
    }
}

fn fast_conv2d(conv: &Conv2d, x: &Tensor<4>) -> Option<Tensor<4>> {
    if !crate::cpu::enabled() || conv.bias.is_some() || conv.dilation != [1, 1] {
        return None;
    }
    let [batch, c_in, h, w] = x.dims();
    let weight = conv.weight.val();
    let [c_out, per_group, kh, kw] = weight.dims();
    let kind = if conv.groups == 1 {
        ConvKind::Dense
    } else if conv.groups == c_in && c_out == c_in && per_group == 1 {
        ConvKind::Depthwise
    } else {
        return None;
    };
    let [top, bottom, left, right] = padding(&conv.padding, [h, w], [kh, kw], conv.stride);
    let dims = ConvDims {
        batch,
        c_in,
        c_out,
        h,
        w,
        kh,
        kw,
        stride: conv.stride,
        pad: [top, bottom, left, right],
    };
    if !dims.is_valid() || per_group * conv.groups != c_in {
        return None;
    }
    ops::conv2d(x, &weight, dims, kind)
}

/// TF "same" padding of one axis, `(before, after)`: the output has `ceil(n / stride)` steps
/// and the kernel gets the zeros it needs, the odd one after.
pub(crate) fn same_padding(n: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let total = ((n.div_ceil(stride).max(1) - 1) * stride + kernel).saturating_sub(n);
    (total / 2, total - total / 2)
}

/// `[top, bottom, left, right]` as Burn's `Conv2d` computes them (its method is private).
fn padding(
    config: &PaddingConfig2d,
    [h, w]: [usize; 2],
    [kh, kw]: [usize; 2],
    [sh, sw]: [usize; 2],
) -> [usize; 4] {
    match *config {
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Same => {
            let ((top, bottom), (left, right)) = (same_padding(h, kh, sh), same_padding(w, kw, sw));
            [top, bottom, left, right]
        }
        PaddingConfig2d::Explicit(top, left, bottom, right) => [top, bottom, left, right],
    }
}

/// `act(norm.forward(x))`; in training, `norm`'s running statistics are updated as Burn's
/// `BatchNorm` updates them.
///
/// # Shapes
/// - `x`: `[B, C, H, W]`; output the same
pub(crate) fn batch_norm_act(norm: &BatchNorm, x: Tensor<4>, act: Activation) -> Tensor<4> {
    if crate::cpu::enabled() {
        let params = NormParams::of(norm);
        if let Some(out) = ops::norm_act(&x, &params, act) {
            if let Some((mean, var)) = &out.batch_stats {
                diffres::kernel_support::update_running_stats(norm, mean, var);
            }
            return out.out;
        }
    }
    let y = norm.forward(x);
    match act {
        Activation::Identity => y,
        Activation::Relu => relu(y),
        Activation::Silu => silu(y),
    }
}

/// Average pooling over windows of `kernel` moved by as much (no padding, floor mode), as
/// `avg_pool2d` with `AvgPoolOptions::new(kernel).with_stride(kernel)`.
///
/// # Shapes
/// - `x`: `[B, C, H, W]` with `H >= kernel[0]`, `W >= kernel[1]`; output
///   `[B, C, H / kernel[0], W / kernel[1]]`
pub(crate) fn avg_pool2d(x: Tensor<4>, kernel: [usize; 2]) -> Tensor<4> {
    if crate::cpu::enabled() {
        let [batch, channels, h, w] = x.dims();
        let dims = PoolDims {
            batch,
            channels,
            h,
            w,
            kernel,
            stride: kernel,
        };
        if dims.is_valid() {
            if let Some(y) = ops::avg_pool2d(&x, dims) {
                return y;
            }
        }
    }
    module::avg_pool2d(x, AvgPoolOptions::new(kernel).with_stride(kernel))
}

/// Squeeze-excitation: `h * sigmoid(expand(silu(reduce(mean_hw(h)))))` with two 1x1
/// convolutions with bias, `reduce` `C -> S` and `expand` `S -> C`.
///
/// # Shapes
/// - `h`: `[B, C, H, W]`; output the same
pub(crate) fn squeeze_excite(reduce: &Conv2d, expand: &Conv2d, h: Tensor<4>) -> Tensor<4> {
    if let Some(y) = fast_squeeze_excite(reduce, expand, &h) {
        return y;
    }
    let squeezed = h.clone().mean_dim(2).mean_dim(3); // [B, C, 1, 1]
    h * sigmoid(expand.forward(silu(reduce.forward(squeezed))))
}

fn fast_squeeze_excite(reduce: &Conv2d, expand: &Conv2d, h: &Tensor<4>) -> Option<Tensor<4>> {
    if !crate::cpu::enabled() {
        return None;
    }
    let [batch, channels, height, width] = h.dims();
    let (reduce_w, expand_w) = (reduce.weight.val(), expand.weight.val());
    let [squeezed, reduce_in, rh, rw] = reduce_w.dims();
    let [expand_out, expand_in, eh, ew] = expand_w.dims();
    // A plain 1x1 convolution of the `[B, C, 1, 1]` means: no groups, stride or padding.
    let one_by_one = |conv: &Conv2d| {
        conv.groups == 1
            && conv.stride == [1, 1]
            && conv.dilation == [1, 1]
            && padding(&conv.padding, [1, 1], [1, 1], [1, 1]) == [0; 4]
    };
    let shapes_fit = reduce_in == channels
        && expand_out == channels
        && expand_in == squeezed
        && [rh, rw, eh, ew] == [1; 4]
        && batch * channels * squeezed * height * width > 0;
    if !shapes_fit || !one_by_one(reduce) || !one_by_one(expand) {
        return None;
    }
    let params = ops::ExciteTensors {
        reduce: reduce_w,
        reduce_bias: reduce.bias.as_ref()?.val(),
        expand: expand_w,
        expand_bias: expand.bias.as_ref()?.val(),
    };
    let dims = ExciteDims {
        batch,
        channels,
        plane: height * width,
        squeezed,
    };
    ops::squeeze_excite(h, &params, dims)
}
