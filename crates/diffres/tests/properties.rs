//! Properties of the DiffRes layer and the baselines through their public API: warp weights,
//! robustness to extreme inputs, errors, variable-length batches, the learnable resolution
//! encoding and parameter counts.

use burn::prelude::*;
use diffres::{
    trainable_params, DiffResConfig, DiffResError, FrontEndConfig, FrontEndKind, FrontEndOutput,
    ResolutionEncoding,
};

mod common;
use common::Lcg;

/// A log-mel-like clip `[frames, mels]`, row-major: noise around -5 with a few silent frames
/// (so the guide loss has empty frames to work on) and a few loud ones.
fn clip(rng: &mut Lcg, frames: usize, mels: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(frames * mels);
    for j in 0..frames {
        let level = match j % 7 {
            2 => -30.0,
            5 => 0.0,
            _ => -5.0,
        };
        for _ in 0..mels {
            v.push(rng.normal(level, 1.5) as f32);
        }
    }
    v
}

fn batch(clips: &[Vec<f32>], frames: usize, mels: usize, device: &Device) -> Tensor<3> {
    let data: Vec<f32> = clips.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(data, [clips.len(), frames, mels]), device)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn assert_all_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

fn scalar(t: Tensor<1>) -> f32 {
    t.into_scalar::<f32>()
}

// ---------------------------------------------------------------------------------------------
// Warp weights

#[test]
fn rows_sum_to_one_and_columns_to_the_score() {
    let device = Device::flex();
    device.seed(7);
    let (b, frames, mels) = (3, 200, 16);
    let mut rng = Lcg(1);
    let clips: Vec<_> = (0..b).map(|_| clip(&mut rng, frames, mels)).collect();
    let x = batch(&clips, frames, mels, &device);
    for delta in [0.5, 0.75, 0.9] {
        let layer = DiffResConfig::new(mels)
            .with_delta(delta)
            .init(&device)
            .unwrap();
        let out = layer.forward(x.clone(), None).unwrap();
        let t = diffres::output_frames(frames, delta).unwrap();
        let score = host(out.score.clone().unwrap());
        let plan = out.plan.unwrap();
        assert_eq!(plan.out_frames(), t);
        for s in 0..b {
            let sparse = plan.sparse(s);
            let mut rows = vec![0f64; t];
            let mut cols = vec![0f64; frames];
            for &(j, k, w) in &sparse {
                assert!(w > 0.0 && w <= 1.0 + 1e-9, "weight {w}");
                rows[k] += w;
                cols[j] += w;
            }
            for (k, r) in rows.iter().enumerate() {
                assert!(
                    (r - 1.0).abs() < 1e-6,
                    "delta {delta}, sample {s}, row {k} sums to {r}"
                );
            }
            for (j, c) in cols.iter().enumerate() {
                let want = score[s * frames + j] as f64;
                assert!((0.0..=1.0 + 1e-6).contains(&want), "score {want}");
                assert!(
                    (c - want).abs() < 1e-5,
                    "delta {delta}, sample {s}, frame {j}: {c} vs {want}"
                );
            }
            // Every input frame goes to at most two output rows, in order.
            let mut last = 0;
            for &(_, k, _) in &sparse {
                assert!(k >= last);
                last = k;
            }
        }
    }
}

#[test]
fn resolution_channel_is_the_warp_of_the_encoding() {
    let device = Device::flex();
    let (frames, mels) = (60, 10);
    let x = batch(&[clip(&mut Lcg(2), frames, mels)], frames, mels, &device);
    for encoding in [
        ResolutionEncoding::Sinusoidal,
        ResolutionEncoding::Learnable { max_frames: 64 },
    ] {
        let layer = DiffResConfig::new(mels)
            .with_delta(0.75)
            .with_resolution_encoding(encoding)
            .init(&device)
            .unwrap();
        let out = layer.forward(x.clone(), None).unwrap();
        let t = out.feature.dims()[2];
        let res = host(out.feature.clone().narrow(1, 2, 1));
        let e = diffres::position::sinusoidal(frames, mels);
        let mut want = vec![0f64; t * mels];
        for (j, k, w) in out.plan.as_ref().unwrap().sparse(0) {
            for c in 0..mels {
                want[k * mels + c] += w * e[j * mels + c] as f64;
            }
        }
        let want: Vec<f32> = want.iter().map(|&v| v as f32).collect();
        assert_all_close(&res, &want, 1e-4, &format!("{encoding:?}"));
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness

fn all_finite(out: &FrontEndOutput) -> bool {
    let f = host(out.feature.clone());
    let mut ok = f.iter().all(|v| v.is_finite());
    if let Some(s) = &out.score {
        ok &= host(s.clone()).iter().all(|v| v.is_finite());
    }
    ok && scalar(out.guide_loss.clone()).is_finite() && scalar(out.activeness.clone()).is_finite()
}

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
// Variable length

const PAD_MELS: usize = 12;
const DELTA: f64 = 0.75;

/// Runs a front end on `[clip]` unpadded and padded with `pad` garbage frames; `t` is the same
/// for both (`floor(40 * 0.25) = floor(43 * 0.25) = 10`).
fn padded_equals_unpadded(kind: FrontEndKind) {
    let device = Device::flex();
    device.seed(5);
    let fe = FrontEndConfig::new(kind, PAD_MELS)
        .with_delta(DELTA)
        .init(&device)
        .unwrap();
    let (frames, pad) = (40, 3);
    let mut rng = Lcg(9);
    let a = clip(&mut rng, frames, PAD_MELS);
    let mut padded = a.clone();
    padded.extend((0..pad * PAD_MELS).map(|_| (50.0 + 30.0 * rng.next()) as f32));
    let alone = fe
        .forward(batch(&[a], frames, PAD_MELS, &device), None)
        .unwrap();
    let with_pad = fe
        .forward(
            batch(&[padded], frames + pad, PAD_MELS, &device),
            Some(&[frames]),
        )
        .unwrap();
    compare(kind, &alone, &with_pad, 0, frames, frames + pad, "padded");
}

/// Sample `sample` of `batched` (with `frames_b` input frames) against `alone` (one clip of
/// `len` frames).
fn compare(
    kind: FrontEndKind,
    alone: &FrontEndOutput,
    batched: &FrontEndOutput,
    sample: usize,
    len: usize,
    frames_b: usize,
    what: &str,
) {
    let [_, c, t, f] = alone.feature.dims();
    let got = batched.feature.clone().narrow(0, sample, 1);
    let got = if kind == FrontEndKind::Identity {
        got.narrow(2, 0, t)
    } else {
        got
    };
    assert_eq!(got.dims(), [1, c, t, f], "{kind} {what}");
    assert_all_close(
        &host(got),
        &host(alone.feature.clone()),
        1e-4,
        &format!("{kind} {what}: feature"),
    );
    if let (Some(sa), Some(sb)) = (&alone.score, &batched.score) {
        let sb = host(sb.clone().narrow(0, sample, 1));
        assert_all_close(
            &sb[..len],
            &host(sa.clone()),
            1e-4,
            &format!("{kind} {what}: score"),
        );
        assert!(
            sb[len..frames_b].iter().all(|&v| v == 0.0),
            "{kind} {what}: padding scored"
        );
    }
}

#[test]
fn padding_is_ignored_by_every_front_end() {
    for kind in FrontEndKind::ALL {
        padded_equals_unpadded(kind);
    }
}

#[test]
fn padding_does_not_change_guide_loss_or_activeness() {
    let device = Device::flex();
    let layer = DiffResConfig::new(PAD_MELS)
        .with_delta(DELTA)
        .init(&device)
        .unwrap();
    let mut rng = Lcg(10);
    let a = clip(&mut rng, 40, PAD_MELS);
    let mut padded = a.clone();
    padded.extend((0..3 * PAD_MELS).map(|_| (-50.0 + 100.0 * rng.next()) as f32));
    let alone = layer
        .forward(batch(&[a], 40, PAD_MELS, &device), None)
        .unwrap();
    let with_pad = layer
        .forward(batch(&[padded], 43, PAD_MELS, &device), Some(&[40]))
        .unwrap();
    let (g0, g1) = (scalar(alone.guide_loss), scalar(with_pad.guide_loss));
    assert!(
        g0 > 0.0,
        "the clip's silent frames should give a guide loss"
    );
    assert!(
        (g0 - g1).abs() <= 1e-5 * (1.0 + g0.abs()),
        "guide loss {g0} vs {g1}"
    );
    let (a0, a1) = (scalar(alone.activeness), scalar(with_pad.activeness));
    assert!(
        (a0 - a1).abs() <= 1e-5 * (1.0 + a0.abs()),
        "activeness {a0} vs {a1}"
    );
}

#[test]
fn a_batch_of_two_lengths_equals_each_clip_alone() {
    let device = Device::flex();
    device.seed(6);
    let mut rng = Lcg(11);
    let (short, long) = (40, 43);
    let a = clip(&mut rng, short, PAD_MELS);
    let b = clip(&mut rng, long, PAD_MELS);
    let mut a_padded = a.clone();
    a_padded.extend((0..(long - short) * PAD_MELS).map(|_| (30.0 * rng.next()) as f32));
    for kind in FrontEndKind::ALL {
        let fe = FrontEndConfig::new(kind, PAD_MELS)
            .with_delta(DELTA)
            .init(&device)
            .unwrap();
        let both = fe
            .forward(
                batch(&[a_padded.clone(), b.clone()], long, PAD_MELS, &device),
                Some(&[short, long]),
            )
            .unwrap();
        let alone_a = fe
            .forward(
                batch(std::slice::from_ref(&a), short, PAD_MELS, &device),
                None,
            )
            .unwrap();
        let alone_b = fe
            .forward(
                batch(std::slice::from_ref(&b), long, PAD_MELS, &device),
                None,
            )
            .unwrap();
        compare(kind, &alone_a, &both, 0, short, long, "batch sample 0");
        compare(kind, &alone_b, &both, 1, long, long, "batch sample 1");
        if kind == FrontEndKind::DiffRes {
            // Both clips have silent and active frames: the batch values are the means.
            let mean = |x: FrontEndOutput, y: FrontEndOutput| {
                (
                    (scalar(x.guide_loss.clone()) + scalar(y.guide_loss.clone())) / 2.0,
                    (scalar(x.activeness) + scalar(y.activeness)) / 2.0,
                )
            };
            let (g, act) = mean(alone_a, alone_b);
            let (gb, ab) = (scalar(both.guide_loss), scalar(both.activeness));
            assert!(
                (g - gb).abs() <= 1e-5 * (1.0 + g.abs()),
                "guide loss {g} vs {gb}"
            );
            assert!(
                (act - ab).abs() <= 1e-5 * (1.0 + act.abs()),
                "activeness {act} vs {ab}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Learnable resolution encoding

#[test]
fn learnable_encoding_trains_and_rejects_long_inputs() {
    let device = Device::flex().autodiff();
    let mels = 8;
    let config = DiffResConfig::new(mels)
        .with_delta(0.5)
        .with_resolution_encoding(ResolutionEncoding::Learnable { max_frames: 32 });
    let layer = config.init(&device).unwrap();
    let plain = DiffResConfig::new(mels)
        .with_delta(0.5)
        .init(&device)
        .unwrap();
    assert_eq!(
        trainable_params(&layer),
        trainable_params(&plain) + 32 * mels
    );

    let mut rng = Lcg(12);
    for frames in [1, 20, 32] {
        let x = batch(&[clip(&mut rng, frames, mels)], frames, mels, &device);
        let delta_ok = frames >= 2;
        if !delta_ok {
            continue;
        }
        let out = layer.forward(x, None).unwrap();
        assert!(all_finite(&out));
        // The table gets a gradient from the resolution channel.
        let grads = out.feature.narrow(1, 2, 1).sum().backward();
        let mut visitor = GradNorm {
            grads: &grads,
            total: 0.0,
        };
        burn::module::Module::visit(&layer, &mut visitor);
        assert!(visitor.total > 0.0, "no gradient reached the parameters");
    }

    let x = batch(&[clip(&mut rng, 33, mels)], 33, mels, &device);
    let err = layer.forward(x, None).unwrap_err();
    assert!(
        matches!(err, DiffResError::Shape { what: "x", ref got, .. } if got == &vec![33]),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("32") && msg.contains("learnable"), "{msg}");
}

struct GradNorm<'a> {
    grads: &'a burn::tensor::Gradients,
    total: f64,
}

impl burn::module::ModuleVisitor for GradNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        if let Some(g) = param.val().grad(self.grads) {
            self.total += host(g.abs().sum())[0] as f64;
        }
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
