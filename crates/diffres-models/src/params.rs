//! Counting trainable parameters.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

struct Trainable {
    count: usize,
    path: Vec<String>,
}

impl ModuleVisitor for Trainable {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // Batch-norm statistics are `RunningState` fields named `running_*`.
        let buffer = self.path.last().is_some_and(|n| n.starts_with("running_"));
        if !buffer {
            self.count += param.lazy_shape().num_elements();
        }
    }
}

/// Trainable parameters of a module, as PyTorch counts them: Burn's `num_params` also counts
/// batch-norm running statistics, which are buffers, not parameters.
///
/// ```
/// use burn::prelude::*;
/// use diffres_models::{trainable_params, ClassifierConfig, ClassifierKind};
///
/// let model = ClassifierConfig::new(ClassifierKind::EfficientNetB0, 1, 527).init(&Device::flex())?;
/// // Backbone 4,006,972 (EfficientNet-B0 without its ImageNet FC, 1-channel stem)
/// // + attention 8 x (1280 x 527 + 527) + 4.
/// assert_eq!(trainable_params(&model), 4_006_972 + 5_400_700);
/// # Ok::<(), diffres_models::ModelError>(())
/// ```
pub fn trainable_params<M: Module>(module: &M) -> usize {
    let mut count = Trainable {
        count: 0,
        path: Vec::new(),
    };
    module.visit(&mut count);
    count.count
}
