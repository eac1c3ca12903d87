//! Properties of the DiffRes warp through the public API: warp weights and the score, the
//! resolution channel, variable-length batches (padding changes nothing) and the learnable
//! resolution encoding. Robustness, errors and parameter counts are in `front_end_checks.rs`.

use burn::prelude::*;
use diffres::{
    trainable_params, DiffResConfig, DiffResError, FrontEndConfig, FrontEndKind, FrontEndOutput,
    ResolutionEncoding,
};

mod common;
use common::{all_finite, assert_all_close, batch, clip, host, scalar, Lcg};

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
