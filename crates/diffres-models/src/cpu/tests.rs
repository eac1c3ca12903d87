//! The host kernels against the portable path (the Burn modules' own forward passes), on
//! whole networks: outputs, running statistics after a training step, and the gradient of
//! every parameter and of the input.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use crate::{ClassifierConfig, ClassifierHead, ClassifierKind};

/// Every float tensor of a module (parameters and running statistics) by path, or, with
/// gradients, every parameter's gradient.
struct Snapshot<'a> {
    path: Vec<String>,
    grads: Option<&'a burn::tensor::Gradients>,
    out: Vec<(String, Vec<f32>)>,
}

impl ModuleVisitor for Snapshot<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let name = self.path.join(".");
        let values = match self.grads {
            None => Some(param.val()),
            Some(grads) => param.val().grad(grads),
        };
        if let Some(values) = values {
            self.out.push((
                name,
                values
                    .into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .unwrap(),
            ));
        }
    }
}

fn snapshot<M: Module>(
    module: &M,
    grads: Option<&burn::tensor::Gradients>,
) -> Vec<(String, Vec<f32>)> {
    let mut visitor = Snapshot {
        path: Vec::new(),
        grads,
        out: Vec::new(),
    };
    module.visit(&mut visitor);
    visitor.out
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// `|a - b| <= tol (1 + max |b|)` element-wise.
fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = 1.0 + b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}[{i}]: {x} vs {y} (scale {scale})"
        );
    }
}

/// Seeded values in `[-1, 1)` (xorshift), the same on every run.
fn numbers(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// One training step (forward, a loss with unequal weights per output, backward) and one
/// inference pass, with the kernels and without; everything compared.
///
/// `grad_tol` bounds the gradients' error relative to each tensor's largest value: rounding
/// differences grow by about an order of magnitude per few train-mode batch norms, from 1e-8
/// at the head to a few 1e-4 at EfficientNet's stem on these small inputs (a wrong kernel
/// gives errors of order 1).
fn check(config: &ClassifierConfig, input: [usize; 4], grad_tol: f32, case: &str) {
    let device = Device::flex().autodiff();
    // One set of weights for both runs, copied by value (running statistics included), and
    // the same on every run of the test: the device's random generator is shared with the
    // tests running at the same time, so each drawn tensor is replaced by seeded values of
    // its own scale (constant tensors, such as batch norm's, are kept).
    let mut template = config.init(&device).unwrap();
    let drawn = crate::checkpoint::collect(&template, false);
    let seeded: Vec<(String, crate::HostTensor)> = drawn
        .into_iter()
        .enumerate()
        .map(|(i, (name, mut t))| {
            let n = t.data.len() as f32;
            let mean = t.data.iter().sum::<f32>() / n;
            let std = (t.data.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
            if std > 1e-12 {
                // Uniform in [-1, 1) has standard deviation 1/sqrt(3).
                let scale = std * 3f32.sqrt();
                t.data = numbers(t.data.len(), 100 + i as u64)
                    .into_iter()
                    .map(|u| mean + scale * u)
                    .collect();
            }
            (name, t)
        })
        .collect();
    crate::checkpoint::apply(&mut template, seeded, false, std::path::Path::new("seeded")).unwrap();
    let run = |portable: bool| {
        let step = || {
            let model = config
                .init(&device)
                .unwrap()
                .load_record(template.clone().into_record());
            let n = input.iter().product();
            let x = Tensor::<4>::from_data(TensorData::new(numbers(n, 1), input), &device)
                .mul_scalar(2.0)
                .require_grad();
            let y = model.forward(x.clone());
            let [b, k] = y.dims();
            let w = Tensor::<2>::from_data(TensorData::new(numbers(b * k, 2), [b, k]), &device);
            let loss = (y.clone() * w).sum() + y.clone().powi_scalar(2).mean();
            let grads = loss.backward();
            let mut grad_values = snapshot(&model, Some(&grads));
            grad_values.push(("input".into(), values(x.grad(&grads).unwrap())));
            // After the step: parameters unchanged, running statistics updated.
            let state = snapshot(&model, None);
            let valid = model.valid();
            let inference = values(valid.forward(x.inner()));
            (values(y), grad_values, state, inference)
        };
        if portable {
            super::portable(step)
        } else {
            step()
        }
    };
    // On one thread: parallel reductions sum in an order that depends on scheduling (other
    // tests run beside this one), and the train-mode norms of these small inputs amplify
    // that rounding to the size of the tolerances below, so a case failed on some runs.
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let (y_fast, g_fast, s_fast, i_fast) = one_thread.install(|| run(false));
    let (y_port, g_port, s_port, i_port) = one_thread.install(|| run(true));
    assert_close(&y_fast, &y_port, 1e-4, &format!("{case}: training output"));
    assert_close(&i_fast, &i_port, 1e-4, &format!("{case}: inference output"));
    assert_eq!(g_fast.len(), g_port.len(), "{case}: gradients found");
    for ((name, a), (name_b, b)) in g_fast.iter().zip(&g_port) {
        assert_eq!(name, name_b);
        assert_close(a, b, grad_tol, &format!("{case}: gradient of {name}"));
    }
    assert_eq!(s_fast.len(), s_port.len());
    for ((name, a), (_, b)) in s_fast.iter().zip(&s_port) {
        assert_close(a, b, 1e-5, &format!("{case}: {name} after the step"));
    }
}

#[test]
fn compact_cnn_kernels_match_the_portable_path() {
    for (channels, input, case) in [
        (3, [2, 3, 20, 16], "cnn 3 channels"),
        (1, [1, 1, 9, 7], "cnn 1 channel, batch 1, odd sizes"),
        (3, [3, 3, 1, 5], "cnn t = 1"),
    ] {
        let config = ClassifierConfig::new(ClassifierKind::Cnn, channels, 4).with_dropout(0.0);
        check(&config, input, 2e-4, case);
    }
}

#[test]
fn efficientnet_kernels_match_the_portable_path() {
    use ClassifierHead::{Logits, Psla};
    use ClassifierKind::{EfficientNetB0 as B0, EfficientNetB2 as B2};
    // Train-mode norms over very few values are ill-conditioned: with 2 samples of 1 x 1
    // (B2 on 24 x 18) a 1e-6 difference in a block's input grows to order 1 over six
    // blocks, on either path. t = 1 with batch 5 (5 values per channel) is the worst case
    // kept here.
    for (kind, head, channels, input, tol, case) in [
        (B0, Logits, 3, [2, 3, 37, 29], 2e-3, "b0 odd sizes"),
        (
            B0,
            Psla,
            1,
            [1, 1, 40, 33],
            2e-3,
            "b0 psla static padding, batch 1",
        ),
        (B0, Logits, 1, [5, 1, 1, 9], 1e-2, "b0 t = 1, batch 5"),
        (
            B2,
            Logits,
            3,
            [3, 3, 37, 29],
            5e-3,
            "b2 (23 blocks: more growth)",
        ),
    ] {
        let config = ClassifierConfig::new(kind, channels, 3)
            .with_dropout(0.0)
            .with_head(head);
        check(&config, input, tol, case);
    }
}

/// [`numbers`] with every 17th value from the fourth on zero and every 17th from the
/// twelfth negative zero.
fn seeded(n: usize, seed: u64) -> Vec<f32> {
    let mut v = numbers(n, seed);
    for (i, x) in v.iter_mut().enumerate() {
        match i % 17 {
            3 => *x = 0.0,
            11 => *x = -0.0,
            _ => {}
        }
    }
    v
}

#[test]
fn average_pooling_is_flex_bit_for_bit() {
    use super::pool::PoolDims;
    use burn::tensor::module::avg_pool2d;
    use burn::tensor::ops::AvgPoolOptions;
    let device = Device::flex().autodiff();
    for (shape, kernel, stride) in [
        ([2, 3, 20, 16], [2, 2], [2, 2]),
        ([1, 1, 9, 7], [2, 2], [2, 2]),
        ([3, 2, 1, 5], [1, 2], [1, 2]),
        ([2, 2, 5, 1], [2, 1], [2, 1]),
        ([1, 3, 2, 2], [2, 2], [2, 2]),
        // Overlapping windows take the general loops (and add gradients in flex's order).
        ([2, 2, 11, 10], [3, 2], [2, 1]),
    ] {
        let [b, c, h, w] = shape;
        let case = format!("{shape:?} kernel {kernel:?} stride {stride:?}");
        let dims = PoolDims {
            batch: b,
            channels: c,
            h,
            w,
            kernel,
            stride,
        };
        assert!(dims.is_valid(), "{case}");
        let x = Tensor::<4>::from_data(TensorData::new(seeded(b * c * h * w, 7), shape), &device);
        let out_shape = dims.out_shape();
        let weights = Tensor::<4>::from_data(
            TensorData::new(seeded(out_shape.iter().product(), 8), out_shape),
            &device,
        );
        let run = |fast: bool| {
            let x = x.clone().require_grad();
            let y = if fast {
                super::ops::avg_pool2d(&x, dims).expect("flex takes the kernel")
            } else {
                avg_pool2d(x.clone(), AvgPoolOptions::new(kernel).with_stride(stride))
            };
            let grads = (y.clone() * weights.clone()).sum().backward();
            (values(y), values(x.grad(&grads).unwrap()))
        };
        let ((y_fast, g_fast), (y_flex, g_flex)) = (run(true), run(false));
        assert_eq!(y_fast.len(), out_shape.iter().product::<usize>(), "{case}");
        // Equal as numbers (a zero's sign aside), not within a tolerance.
        assert_eq!(y_fast, y_flex, "{case}: output");
        assert_eq!(g_fast, g_flex, "{case}: input gradient");
        // And the plain (inference) device gives the same numbers.
        let plain = super::ops::avg_pool2d(&x.clone().inner(), dims).unwrap();
        assert_eq!(values(plain), y_flex, "{case}: inference output");
    }
}

#[test]
fn average_pooling_matches_a_hand_computation() {
    use super::pool::{backward, forward, PoolDims};
    // One 3 x 4 plane, 2 x 2 windows: the last row has no window (floor mode).
    let dims = PoolDims {
        batch: 1,
        channels: 1,
        h: 3,
        w: 4,
        kernel: [2, 2],
        stride: [2, 2],
    };
    let x = [
        1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0,
    ];
    assert_eq!(forward(&dims, &x), vec![3.5, 5.5]);
    assert_eq!(
        backward(&dims, &[4.0, -8.0]),
        vec![1.0, 1.0, -2.0, -2.0, 1.0, 1.0, -2.0, -2.0, 0.0, 0.0, 0.0, 0.0]
    );
}

/// The attention pooling alone against the portable path: output and every gradient, both
/// heads, odd sizes, and saturated attention (the clamp's zero gradient).
#[test]
fn attention_pooling_kernel_matches_the_portable_path() {
    use crate::{MHeadAttention, MHeadAttentionConfig};
    let device = Device::flex().autodiff();
    for (shape, heads, classes, scale, case) in [
        ([3, 5, 4, 6], 4, 3, 1.0, "psla-sized"),
        (
            [1, 1, 1, 1],
            1,
            1,
            1.0,
            "batch 1, t = 1, one bin, one class",
        ),
        ([2, 7, 3, 5], 2, 4, 40.0, "saturated attention"),
    ] {
        for head in [ClassifierHead::Logits, ClassifierHead::Psla] {
            let case = format!("{case}, {head}");
            let [b, c, t, f] = shape;
            let mut pool: MHeadAttention = MHeadAttentionConfig::new(c, classes)
                .with_heads(heads)
                .with_head(head)
                .init(&device);
            let mut seed = 10;
            let mut fill = |layer: &mut burn::nn::Linear| {
                seed += 2;
                let w = numbers(c * classes, seed)
                    .into_iter()
                    .map(|v| v * scale)
                    .collect();
                layer.weight = Param::from_tensor(Tensor::from_data(
                    TensorData::new(w, [c, classes]),
                    &device,
                ));
                let bias = numbers(classes, seed + 1);
                layer.bias = Some(Param::from_tensor(Tensor::from_data(
                    TensorData::new(bias, [classes]),
                    &device,
                )));
            };
            pool.att.iter_mut().for_each(&mut fill);
            pool.cla.iter_mut().for_each(&mut fill);
            let hw = numbers(heads, 99);
            pool.head_weight =
                Param::from_tensor(Tensor::from_data(TensorData::new(hw, [heads]), &device));
            let x =
                Tensor::<4>::from_data(TensorData::new(numbers(b * c * t * f, 5), shape), &device);
            let w = Tensor::<2>::from_data(
                TensorData::new(numbers(b * classes, 6), [b, classes]),
                &device,
            );
            let run = |portable: bool| {
                let step = || {
                    let x = x.clone().require_grad();
                    let y = pool.forward(x.clone());
                    let grads = (y.clone() * w.clone()).sum().backward();
                    let mut g = snapshot(&pool, Some(&grads));
                    g.push(("input".into(), values(x.grad(&grads).unwrap())));
                    (values(y), g, values(pool.valid().forward(x.inner())))
                };
                if portable {
                    super::portable(step)
                } else {
                    step()
                }
            };
            let ((y_fast, g_fast, i_fast), (y_port, g_port, i_port)) = (run(false), run(true));
            assert_close(&y_fast, &y_port, 1e-5, &format!("{case}: output"));
            assert_close(&i_fast, &i_port, 1e-5, &format!("{case}: inference output"));
            assert_eq!(g_fast.len(), 4 * heads + 2, "{case}: gradients found");
            assert_eq!(g_fast.len(), g_port.len(), "{case}");
            for ((name, a), (_, b)) in g_fast.iter().zip(&g_port) {
                assert_close(a, b, 1e-5, &format!("{case}: gradient of {name}"));
            }
        }
    }
}
