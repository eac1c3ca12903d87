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
/// let net = diffres::ImportanceNetConfig::new(128).init(&Device::flex()).unwrap();
/// assert_eq!(diffres::trainable_params(&net), 82_371);
/// ```
pub fn trainable_params<M: Module>(module: &M) -> usize {
    let mut count = Trainable {
        count: 0,
        path: Vec::new(),
    };
    module.visit(&mut count);
    count.count
}
