//! The layer and the baselines on a GPU through Burn's wgpu backend, against flex.
//!
//! Built only with `--features wgpu`; then they run on whatever Vulkan device the system has
//! (Mesa's lavapipe, a software Vulkan device on the CPU, in CI) and fail, not skip, when
//! there is none. Modules are initialised on flex and moved, so both sides have the same
//! weights; shapes are tiny because lavapipe runs on two CPU cores.
#![cfg(feature = "wgpu")]

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::Gradients;
use diffres::{DiffResConfig, FrontEndConfig, FrontEndKind, FrontEndOutput, ScoreNormalization};

mod common;
use common::{assert_all_close, batch, clip, host, Lcg};

fn gpu() -> Device {
    Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)
}

/// The same values on another device.
fn moved<const D: usize>(x: &Tensor<D>, device: &Device) -> Tensor<D> {
    Tensor::from_data(x.to_data(), device)
}

/// Every float parameter's gradient, flattened, in the module's order.
struct ParamGrads<'a> {
    grads: &'a Gradients,
    out: Vec<Vec<f32>>,
}

impl ModuleVisitor for ParamGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = param.val().grad(self.grads) {
            self.out.push(host(g));
        }
    }
}

fn param_grads<M: Module>(module: &M, grads: &Gradients) -> Vec<Vec<f32>> {
    let mut visitor = ParamGrads {
        grads,
        out: Vec::new(),
    };
    module.visit(&mut visitor);
    visitor.out
}

fn close_enough(a: &[f32], b: &[f32], what: &str) {
    // Values within 1e-4 of flex, relative to the larger of 1 and the value.
    assert_all_close(a, b, 1e-4, what);
}

/// The largest difference between `a` and `b` relative to `b`'s largest magnitude (at least 1).
fn relative_difference(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    worst / scale
}

/// Runs `module` on flex and on the GPU (autodiff on both) with the same input and weights, and
/// compares the outputs and the gradients of `sum(feature * w) + guide_loss`.
///
/// Outputs must agree within 1e-4. The gradients pass through train-mode batch norms over a
/// few values and the warp's frame boundaries, which amplify rounding: flex's own gradients
/// move by up to 4e-3 of a tensor's largest value when the input moves by 6e-7 of itself
/// (measured). Each gradient (the input's and every parameter's) must therefore agree within
/// 1e-4 of its largest value, or within four times flex's own spread under two such
/// perturbations (a real defect differs by far more: a wrong route or share moves a gradient
/// by a sizeable fraction of its largest value).
fn compare<M, F>(name: &str, module: M, lengths: Option<&[usize]>, forward: F)
where
    M: Module + Clone,
    F: Fn(&M, Tensor<3>, Option<&[usize]>) -> FrontEndOutput,
{
    let cpu = Device::flex().autodiff();
    let gpu = gpu().autodiff();
    let (b, frames, mels) = (3, 40, 16);
    let mut rng = Lcg(11);
    let clips: Vec<Vec<f32>> = (0..b).map(|_| clip(&mut rng, frames, mels)).collect();
    let x_cpu = batch(&clips, frames, mels, &cpu).require_grad();
    let x_gpu = moved(&x_cpu, &gpu).require_grad();
    let module_gpu = module.clone().fork(&gpu);

    let out_cpu = forward(&module, x_cpu.clone(), lengths);
    let out_gpu = forward(&module_gpu, x_gpu.clone(), lengths);
    let dims = out_cpu.feature.dims();
    assert_eq!(out_gpu.feature.dims(), dims, "{name}: shape");
    let w: Vec<f32> = (0..dims.iter().product::<usize>())
        .map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5)
        .collect();
    let weight = |device: &Device| Tensor::<4>::from_data(TensorData::new(w.clone(), dims), device);

    close_enough(
        &host(out_gpu.feature.clone()),
        &host(out_cpu.feature.clone()),
        &format!("{name}: feature"),
    );
    for (what, a, b) in [
        ("guide loss", &out_gpu.guide_loss, &out_cpu.guide_loss),
        ("activeness", &out_gpu.activeness, &out_cpu.activeness),
    ] {
        close_enough(
            &host(a.clone()),
            &host(b.clone()),
            &format!("{name}: {what}"),
        );
    }
    if let (Some(a), Some(b)) = (&out_gpu.score, &out_cpu.score) {
        close_enough(
            &host(a.clone()),
            &host(b.clone()),
            &format!("{name}: score"),
        );
    }
    let g_cpu = ((out_cpu.feature * weight(&cpu)).sum() + out_cpu.guide_loss).backward();
    let g_gpu = ((out_gpu.feature * weight(&gpu)).sum() + out_gpu.guide_loss).backward();
    let grad = |x: &Tensor<3>, g: &Gradients| host(x.grad(g).expect("input gradient"));
    // Every gradient: the input's, then the parameters' in the module's order.
    let gradients = |m: &M, x: &Tensor<3>, g: &Gradients| {
        let mut all = vec![grad(x, g)];
        all.extend(param_grads(m, g));
        all
    };
    let on_gpu = gradients(&module_gpu, &x_gpu, &g_gpu);
    let on_flex = gradients(&module, &x_cpu, &g_cpu);
    assert_eq!(on_gpu.len(), on_flex.len(), "{name}: parameter gradients");
    // Flex's own spread: its gradients with the input moved by a few units in the last place,
    // in two patterns.
    let mut spread = vec![0.0f32; on_flex.len()];
    for (period, centre) in [(7, 3.0), (5, 2.0)] {
        let nudged: Vec<Vec<f32>> = clips
            .iter()
            .map(|c| {
                c.iter()
                    .enumerate()
                    .map(|(i, v)| v * (1.0 + 2e-7 * ((i * 31 % period) as f32 - centre)))
                    .collect()
            })
            .collect();
        let x = batch(&nudged, frames, mels, &cpu).require_grad();
        let out = forward(&module, x.clone(), lengths);
        let g = ((out.feature * weight(&cpu)).sum() + out.guide_loss).backward();
        for (s, (a, b)) in spread
            .iter_mut()
            .zip(gradients(&module, &x, &g).iter().zip(&on_flex))
        {
            *s = s.max(relative_difference(a, b));
        }
    }
    for (i, ((a, b), flex)) in on_gpu.iter().zip(&on_flex).zip(spread).enumerate() {
        let what = match i {
            0 => "the input".to_string(),
            _ => format!("parameter {}", i - 1),
        };
        let gpu = relative_difference(a, b);
        assert!(
            gpu <= 1e-4_f32.max(4.0 * flex),
            "{name}: gradient of {what} differs by {gpu:e} of its largest value \
             (flex from itself under the nudges: {flex:e})"
        );
    }
}

#[test]
fn wgpu_diffres_matches_flex_values_and_gradients() {
    let cpu = Device::flex().autodiff();
    cpu.seed(3);
    for normalization in [ScoreNormalization::ExactSum, ScoreNormalization::Reference] {
        for lengths in [None, Some(&[40usize, 31, 13][..])] {
            let layer = DiffResConfig::new(16)
                .with_delta(0.5)
                .with_normalization(normalization)
                .init(&cpu)
                .unwrap();
            compare(
                &format!("DiffRes {normalization}, lengths {lengths:?}"),
                layer,
                lengths,
                |m, x, l| m.forward(x, l).unwrap(),
            );
        }
    }
}

#[test]
fn wgpu_every_baseline_matches_flex() {
    let cpu = Device::flex().autodiff();
    cpu.seed(4);
    for kind in FrontEndKind::ALL {
        if kind == FrontEndKind::DiffRes {
            continue;
        }
        let delta = if kind == FrontEndKind::Identity {
            0.0
        } else {
            0.5
        };
        let front = FrontEndConfig::new(kind, 16)
            .with_delta(delta)
            .init(&cpu)
            .unwrap();
        for lengths in [None, Some(&[40usize, 31, 13][..])] {
            compare(
                &format!("{kind}, lengths {lengths:?}"),
                front.clone(),
                lengths,
                |m, x, l| m.forward(x, l).unwrap(),
            );
        }
    }
}

/// The GPU path reads back once per forward (its `[B, 2]` flags), training or not.
#[test]
fn wgpu_layer_reads_once_per_forward() {
    let cpu = Device::flex();
    cpu.seed(5);
    let layer = DiffResConfig::new(16).init(&cpu).unwrap();
    for device in [gpu(), gpu().autodiff()] {
        let layer = layer.clone().to_device(&device);
        let mut rng = Lcg(2);
        let clips: Vec<Vec<f32>> = (0..2).map(|_| clip(&mut rng, 30, 16)).collect();
        let x = batch(&clips, 30, 16, &device);
        let before = diffres::host_reads();
        let out = layer.forward(x, Some(&[30, 20])).unwrap();
        assert_eq!(diffres::host_reads() - before, 1);
        drop(out);
    }
}

#[test]
fn wgpu_non_finite_input_is_an_error() {
    let device = gpu();
    let layer = DiffResConfig::new(4).init(&device).unwrap();
    let mut v = vec![0.5f32; 2 * 10 * 4];
    v[10 * 4 + 7] = f32::NAN;
    let x = Tensor::<3>::from_data(TensorData::new(v, [2, 10, 4]), &device);
    let err = layer.forward(x, None).unwrap_err();
    assert!(
        matches!(err, diffres::DiffResError::NonFinite { sample: 1 }),
        "{err}"
    );
}
