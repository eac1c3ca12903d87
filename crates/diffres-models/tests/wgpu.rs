//! Every classifier's forward pass on a GPU through Burn's wgpu backend, against flex.
//!
//! Built only with `--features wgpu`; then it runs on whatever Vulkan device the system has
//! (Mesa's lavapipe in CI) and fails, not skips, when there is none. Weights are initialised on
//! flex and moved; the input is tiny because lavapipe runs on two CPU cores.
#![cfg(feature = "wgpu")]

use burn::prelude::*;
use diffres_models::{ClassifierConfig, ClassifierHead, ClassifierKind};

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

#[test]
fn wgpu_every_classifier_forward_matches_flex() {
    let cpu = Device::flex();
    let gpu = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    cpu.seed(9);
    let cases = [
        (ClassifierKind::Cnn, ClassifierHead::Logits),
        (ClassifierKind::EfficientNetB0, ClassifierHead::Logits),
        (ClassifierKind::EfficientNetB0, ClassifierHead::Psla),
        (ClassifierKind::EfficientNetB2, ClassifierHead::Logits),
    ];
    // [B, C, t, F]: DiffRes's three channels, 24 frames, 32 mel bins.
    let shape = [2, 3, 24, 32];
    let n: usize = shape.iter().product();
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 101) as f32 / 25.0 - 2.0)
        .collect();
    for (kind, head) in cases {
        let model = ClassifierConfig::new(kind, 3, 5)
            .with_cnn_width(4)
            .with_head(head)
            .init(&cpu)
            .unwrap();
        let on_gpu = model.clone().to_device(&gpu);
        let a = values(model.forward(Tensor::from_data(TensorData::new(x.clone(), shape), &cpu)));
        let b = values(on_gpu.forward(Tensor::from_data(TensorData::new(x.clone(), shape), &gpu)));
        assert_eq!(a.len(), 2 * 5);
        for (i, (p, q)) in a.iter().zip(&b).enumerate() {
            assert!(
                (p - q).abs() <= 1e-4 * (1.0 + p.abs()),
                "{kind:?} {head:?} output {i}: flex {p}, wgpu {q}"
            );
        }
    }
}
