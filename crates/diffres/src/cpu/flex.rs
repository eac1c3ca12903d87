//! Moving tensors between Burn's dispatch layer and the host kernels.

use std::borrow::Cow;

use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, BackendTypes, Flex};
use burn::prelude::*;
use burn::tensor::DType;

use super::strided::Strided3;

/// Which flavour of flex a tensor lives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlexKind {
    /// Plain flex: no gradients.
    Plain,
    /// Autodiff over flex, without gradient checkpointing.
    Autodiff,
    /// Autodiff over flex, with balanced gradient checkpointing.
    AutodiffBalanced,
}

/// The flex flavour of `tensor`, or `None` on any other backend or for non-`f32` data.
pub fn flex_kind<const D: usize>(tensor: &Tensor<D>) -> Option<FlexKind> {
    if tensor.dtype() != DType::F32 {
        return None;
    }
    if tensor.clone().try_into_primitive::<Flex>().is_ok() {
        return Some(FlexKind::Plain);
    }
    if tensor
        .clone()
        .try_into_primitive::<Autodiff<Flex, NoCheckpointing>>()
        .is_ok()
    {
        return Some(FlexKind::Autodiff);
    }
    if tensor
        .clone()
        .try_into_primitive::<Autodiff<Flex, BalancedCheckpointing>>()
        .is_ok()
    {
        return Some(FlexKind::AutodiffBalanced);
    }
    None
}

/// The plain flex primitive of a tensor known to be on plain flex.
pub fn plain<const D: usize>(tensor: Tensor<D>) -> Option<FlexTensor> {
    tensor.try_into_primitive::<Flex>().ok()
}

/// Burn's autodiff tensor over flex (the same type for every checkpointing strategy).
pub type AdTensor = <Autodiff<Flex> as BackendTypes>::FloatTensorPrimitive;

/// A gradient-checkpointing strategy of autodiff over flex, with the conversions between
/// Burn tensors and autodiff primitives under it. (Burn's own bound for these conversions is
/// private, so each strategy is spelled out.)
pub trait Strategy: CheckpointStrategy {
    /// The autodiff primitive of a tensor on autodiff flex with this strategy.
    fn tracked<const D: usize>(tensor: Tensor<D>) -> Option<AdTensor>;
    /// A Burn tensor from an autodiff primitive made under this strategy.
    fn wrap<const D: usize>(tensor: AdTensor) -> Tensor<D>;
}

impl Strategy for NoCheckpointing {
    fn tracked<const D: usize>(tensor: Tensor<D>) -> Option<AdTensor> {
        tensor.try_into_primitive::<Autodiff<Flex, Self>>().ok()
    }
    fn wrap<const D: usize>(tensor: AdTensor) -> Tensor<D> {
        Tensor::from_primitive::<Autodiff<Flex, Self>>(tensor)
    }
}

impl Strategy for BalancedCheckpointing {
    fn tracked<const D: usize>(tensor: Tensor<D>) -> Option<AdTensor> {
        tensor.try_into_primitive::<Autodiff<Flex, Self>>().ok()
    }
    fn wrap<const D: usize>(tensor: AdTensor) -> Tensor<D> {
        Tensor::from_primitive::<Autodiff<Flex, Self>>(tensor)
    }
}

/// A tensor on plain flex from host values.
pub fn plain_tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(flex_tensor(values, &shape))
}

/// A flex primitive from host values (no copy).
pub fn flex_tensor(values: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.to_vec()))
}

/// The values of an `f32` flex tensor, row-major: borrowed when contiguous, else copied.
pub fn host(tensor: &FlexTensor) -> Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(values) => Cow::Borrowed(values),
        None => Cow::Owned(
            tensor
                .to_contiguous()
                .as_slice::<f32>()
                .expect("a contiguous f32 tensor")
                .to_vec(),
        ),
    }
}

/// A `[B, C, T]` strided view of an `f32` flex tensor, or `None` for negative strides.
pub(crate) fn strided3(tensor: &FlexTensor) -> Option<Strided3<'_>> {
    let layout = tensor.layout();
    let strides = layout.strides();
    if strides.len() != 3 || strides.iter().any(|&s| s < 0) {
        return None;
    }
    Some(Strided3 {
        data: tensor.storage::<f32>(),
        offset: layout.start_offset(),
        strides: [
            strides[0] as usize,
            strides[1] as usize,
            strides[2] as usize,
        ],
    })
}
