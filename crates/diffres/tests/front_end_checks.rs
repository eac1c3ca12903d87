//! Properties of every front end through the public API: robustness to extreme inputs,
//! configuration and input errors (never panics), and parameter counts. The warp itself is
//! covered in `properties.rs`.

use burn::prelude::*;
use diffres::{
    trainable_params, DiffResConfig, DiffResError, FrontEndConfig, FrontEndKind, ResolutionEncoding,
};

mod common;
use common::{all_finite, host, Lcg};

// ---------------------------------------------------------------------------------------------
// Robustness

#[test]
fn extreme_inputs_give_finite_outputs() {
    let device = Device::flex();
    let mut rng = Lcg(3);
    // (name, frames, mels, delta, generator)
    type Gen = Box<dyn Fn(&mut Lcg, usize) -> f32>;
    let cases: Vec<(&str, usize, usize, f64, Gen)> = vec![
        (
            "silent ln(1e-6)",
            24,
            16,
            0.75,
            Box::new(|_, _| (1e-6f32).ln()),
        ),
        ("silent -100", 24, 16, 0.75, Box::new(|_, _| -100.0)),
        ("constant", 24, 16, 0.5, Box::new(|_, _| -3.0)),
        (
            "up to 1e4",
            24,
            16,
            0.75,
            Box::new(|r, _| (9e3 + 1e3 * r.next()) as f32),
        ),
        (
            "down to -1e4",
            24,
            16,
            0.75,
            Box::new(|r, _| (-1e4 + 1e3 * r.next()) as f32),
        ),
        (
            "T = t",
            24,
            16,
            0.0,
            Box::new(|r, _| r.normal(-5.0, 2.0) as f32),
        ),
        (
            "T = 1",
            1,
            16,
            0.0,
            Box::new(|r, _| r.normal(-5.0, 2.0) as f32),
        ),
        (
            "t = 1",
            4,
            16,
            0.75,
            Box::new(|r, _| r.normal(-5.0, 2.0) as f32),
        ),
        (
            "odd F",
            24,
            7,
            0.75,
            Box::new(|r, _| r.normal(-5.0, 2.0) as f32),
        ),
        (
            "F = 80",
            24,
            80,
            0.9,
            Box::new(|r, _| r.normal(-5.0, 2.0) as f32),
        ),
        (
            "F = 1",
            24,
            1,
            0.5,
            Box::new(|r, _| r.normal(-5.0, 2.0) as f32),
        ),
        (
            "one loud frame",
            24,
            16,
            0.75,
            Box::new(|r, i| {
                if i / 16 == 5 {
                    20.0
                } else {
                    r.normal(-60.0, 1.0) as f32
                }
            }),
        ),
    ];
    for (name, frames, mels, delta, gen) in &cases {
        let data: Vec<f32> = (0..2 * frames * mels)
            .map(|i| gen(&mut rng, i % (frames * mels)))
            .collect();
        for train in [false, true] {
            let device = if train {
                device.clone().autodiff()
            } else {
                device.clone()
            };
            let x =
                Tensor::<3>::from_data(TensorData::new(data.clone(), [2, *frames, *mels]), &device);
            for kind in FrontEndKind::ALL {
                let fe = FrontEndConfig::new(kind, *mels)
                    .with_delta(*delta)
                    .init(&device)
                    .unwrap();
                let x = if train {
                    x.clone().require_grad()
                } else {
                    x.clone()
                };
                let out = fe
                    .forward(x.clone(), None)
                    .unwrap_or_else(|e| panic!("{name}, {kind}: {e}"));
                let t = fe_frames(kind, *frames, *delta);
                assert_eq!(
                    out.feature.dims(),
                    [2, kind.channels(), t, *mels],
                    "{name}, {kind}"
                );
                assert!(
                    all_finite(&out),
                    "{name}, {kind}, train {train}: non-finite output"
                );
                if train && kind == FrontEndKind::DiffRes {
                    let loss = out.feature.sum() + out.guide_loss;
                    let grads = loss.backward();
                    let g = host(x.grad(&grads).unwrap());
                    assert!(
                        g.iter().all(|v| v.is_finite()),
                        "{name}: non-finite gradient"
                    );
                }
            }
        }
    }
}

fn fe_frames(kind: FrontEndKind, frames: usize, delta: f64) -> usize {
    FrontEndConfig::new(kind, 1)
        .with_delta(delta)
        .output_frames(frames)
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn bad_delta_is_an_error_at_init() {
    let device = Device::flex();
    for delta in [1.0, -0.1, f64::NAN, f64::INFINITY, 1.5] {
        let err = DiffResConfig::new(16)
            .with_delta(delta)
            .init(&device)
            .unwrap_err();
        assert!(matches!(err, DiffResError::DeltaOutOfRange(d) if d.to_bits() == delta.to_bits()));
        let msg = err.to_string();
        assert!(msg.contains("delta") && msg.contains("[0, 1)"), "{msg}");
        for kind in FrontEndKind::ALL {
            let r = FrontEndConfig::new(kind, 16)
                .with_delta(delta)
                .init(&device);
            match kind {
                FrontEndKind::Identity => assert!(r.is_ok(), "identity ignores delta"),
                _ => assert!(
                    matches!(r, Err(DiffResError::DeltaOutOfRange(_))),
                    "{kind} with delta {delta}"
                ),
            }
        }
    }
    // Other configuration errors.
    assert!(matches!(
        DiffResConfig::new(0).init(&device),
        Err(DiffResError::Config(m)) if m.contains("n_mels")
    ));
    assert!(matches!(
        DiffResConfig::new(16).with_dilation_growth(0).init(&device),
        Err(DiffResError::Config(m)) if m.contains("dilation")
    ));
    assert!(matches!(
        DiffResConfig::new(16)
            .with_resolution_encoding(ResolutionEncoding::Learnable { max_frames: 0 })
            .init(&device),
        Err(DiffResError::Config(m)) if m.contains("max_frames")
    ));
    for kind in FrontEndKind::ALL {
        assert!(
            matches!(
                FrontEndConfig::new(kind, 0).init(&device),
                Err(DiffResError::Config(_))
            ),
            "{kind} with 0 mels"
        );
    }
    assert!(matches!(
        "mfcc".parse::<FrontEndKind>(),
        Err(DiffResError::UnknownFrontEnd(ref n)) if n == "mfcc"
    ));
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let device = Device::flex();
    let mels = 8;
    for kind in FrontEndKind::ALL {
        let fe = FrontEndConfig::new(kind, mels)
            .with_delta(0.5)
            .init(&device)
            .unwrap();
        let x = |frames: usize| Tensor::<3>::zeros([2, frames, mels], &device) - 5.0;

        // Too few frames for delta (not for Identity).
        let r = fe.forward(Tensor::<3>::zeros([2, 1, mels], &device), None);
        if kind == FrontEndKind::Identity {
            assert!(r.is_ok());
        } else {
            let err = r.unwrap_err();
            assert!(
                matches!(
                    err,
                    DiffResError::NoOutputFrames {
                        frames: 1,
                        t: 0,
                        ..
                    }
                ),
                "{kind}: {err:?}"
            );
            assert!(err.to_string().contains("no output frame"), "{err}");
        }

        // Wrong F, empty batch, zero frames.
        for shape in [[2, 10, mels + 1], [0, 10, mels], [2, 0, mels]] {
            let err = fe
                .forward(Tensor::<3>::zeros(shape, &device), None)
                .unwrap_err();
            assert!(
                matches!(err, DiffResError::Shape { what: "x", .. }),
                "{kind} {shape:?}: {err:?}"
            );
            let msg = err.to_string();
            assert!(msg.contains(&format!("F = {mels}")), "{msg}");
        }

        // NaN and infinities, in the second sample.
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut data = vec![-5f32; 2 * 10 * mels];
            data[10 * mels + 17] = bad;
            let xb = Tensor::<3>::from_data(TensorData::new(data, [2, 10, mels]), &device);
            let err = fe.forward(xb, None).unwrap_err();
            assert_eq!(
                err,
                DiffResError::NonFinite { sample: 1 },
                "{kind} with {bad}"
            );
            assert!(err.to_string().contains("NaN or infinite"), "{err}");
        }

        // Lengths: 0, too long, wrong count.
        for (lengths, sample, length) in [(vec![10, 0], 1, 0), (vec![11, 10], 0, 11)] {
            let err = fe.forward(x(10), Some(&lengths)).unwrap_err();
            assert_eq!(
                err,
                DiffResError::BadLength {
                    sample,
                    length,
                    frames: 10
                },
                "{kind}"
            );
            assert!(err.to_string().contains("valid length"), "{err}");
        }
        let err = fe.forward(x(10), Some(&[10])).unwrap_err();
        assert!(
            matches!(
                err,
                DiffResError::Shape {
                    what: "lengths",
                    ..
                }
            ),
            "{kind}: {err:?}"
        );
        assert!(err.to_string().contains("lengths"), "{err}");
    }
}

// ---------------------------------------------------------------------------------------------
// Parameter counts

#[test]
fn trainable_parameters_match_the_paper() {
    let device = Device::flex();
    for (mels, want) in [(128, 82_371), (64, 63_579), (40, 25_041)] {
        let fe = FrontEndConfig::new(FrontEndKind::DiffRes, mels)
            .init(&device)
            .unwrap();
        assert_eq!(trainable_params(&fe), want, "DiffRes at F = {mels}");
    }
    let fe = FrontEndConfig::new(FrontEndKind::ConvAvgPool, 128)
        .init(&device)
        .unwrap();
    assert_eq!(trainable_params(&fe), 493_824);
    for kind in [
        FrontEndKind::Identity,
        FrontEndKind::ChangeHopSize,
        FrontEndKind::AvgPool,
        FrontEndKind::AvgMaxPool,
    ] {
        let fe = FrontEndConfig::new(kind, 128).init(&device).unwrap();
        assert_eq!(trainable_params(&fe), 0, "{kind}");
    }
}
