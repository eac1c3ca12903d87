//! Moving tensors between Burn's dispatch layer and the host kernels (as `diffres::cpu::flex`,
//! whose helpers are private to that crate).

use std::borrow::Cow;

use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, BackendTypes, Flex};
use burn::prelude::*;
use burn::tensor::DType;

/// Which flavour of flex a tensor lives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlexKind {
    /// Plain flex: no gradients.
    Plain,
    /// Autodiff over flex, without gradient checkpointing.
    Autodiff,
    /// Autodiff over flex, with balanced gradient checkpointing.
    AutodiffBalanced,
}

/// The flex flavour of `tensor`, or `None` on any other backend or for non-`f32` data.
pub(crate) fn flex_kind<const D: usize>(tensor: &Tensor<D>) -> Option<FlexKind> {
    if tensor.dtype() != DType::F32 {
        return None;
    }
    if tensor.clone().try_into_primitive::<Flex>().is_ok() {
        Some(FlexKind::Plain)
    } else if NoCheckpointing::tracked(tensor.clone()).is_some() {
        Some(FlexKind::Autodiff)
    } else if BalancedCheckpointing::tracked(tensor.clone()).is_some() {
        Some(FlexKind::AutodiffBalanced)
    } else {
        None
    }
}

/// The plain flex primitive of a tensor on plain flex.
pub(crate) fn plain<const D: usize>(tensor: Tensor<D>) -> Option<FlexTensor> {
    tensor.try_into_primitive::<Flex>().ok()
}

/// Burn's autodiff tensor over flex (the same type for every checkpointing strategy).
pub(crate) type AdTensor = <Autodiff<Flex> as BackendTypes>::FloatTensorPrimitive;

/// A checkpointing strategy of autodiff over flex, with the conversions between Burn tensors
/// and autodiff primitives under it (Burn's own bound for them is private).
pub(crate) trait Strategy: CheckpointStrategy {
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

/// A flex primitive from host values (no copy).
pub(crate) fn flex_tensor(values: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.to_vec()))
}

/// The values of an `f32` flex tensor, row-major: borrowed when contiguous, else copied.
pub(crate) fn host(tensor: &FlexTensor) -> Cow<'_, [f32]> {
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
