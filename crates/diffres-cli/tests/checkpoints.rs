//! The checkpoint flags of the `diffres` binary: `--init` (repeatable, any kind), `--features
//! kaldi` with `--normalize`, `--head psla`, and `diffres export`.

use std::path::Path;
use std::process::Output;

mod common;
use common::{assert_one_line_errors, diffres, stderr, stdout};

#[test]
fn the_flags_are_documented() {
    let train = stdout(&diffres(&["train", "--help"]));
    for flag in ["--init", "--features", "--normalize", "--head"] {
        assert!(train.contains(flag), "train --help documents {flag}");
    }
    let export = diffres(&["export", "--help"]);
    assert!(export.status.success());
    let text = stdout(&export);
    assert!(
        text.contains("--run") && text.contains("--out") && text.contains("PSLA"),
        "{text}"
    );
}

#[test]
fn bad_checkpoint_options_are_one_line_and_a_failure_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let out = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["train", "--data", ".", "--out", out, "--features", "mfcc"],
            "features 'mfcc'",
        ),
        (
            vec!["train", "--data", ".", "--out", out, "--normalize", "-4,0"],
            "normalisation '-4,0'",
        ),
        (
            vec!["train", "--data", ".", "--out", out, "--head", "softmax"],
            "head 'softmax'",
        ),
        (
            vec!["train", "--data", ".", "--out", out, "--head", "psla"],
            "--head psla",
        ),
        (
            vec![
                "train",
                "--data",
                ".",
                "--out",
                out,
                "--init",
                "/definitely/not/here.pth",
            ],
            "--init /definitely/not/here.pth does not exist",
        ),
        (
            vec!["export", "--run", "/definitely/not/here", "--out", out],
            "no such run folder",
        ),
    ];
    assert_one_line_errors(&cases);
}

fn train(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--quiet",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--mels",
        "16",
        "--frames",
        "40",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--cnn-width",
        "4",
        "--cache-dir",
        "none",
    ];
    args.extend_from_slice(extra);
    diffres(&args)
}

#[test]
fn kaldi_features_train_export_and_initialise_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("synth");
    let data = common::synth(&folder, 4);

    let first = tmp.path().join("first");
    let run = train(
        &data,
        &first,
        &["--features", "kaldi", "--normalize", "-6.6,5.4"],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let config = std::fs::read_to_string(first.join("config.json")).unwrap();
    assert!(
        config.contains("\"features\": \"kaldi\"") && config.contains("-6.6"),
        "{config}"
    );

    // The DiffRes layer exports under pydiffres' names; the compact CNN has no PyTorch twin.
    let file = tmp.path().join("model.safetensors");
    let export = diffres(&[
        "export",
        "--run",
        first.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(export.status.success(), "{}", stderr(&export));
    let text = stdout(&export);
    assert!(
        text.contains("pydiffres DiffRes(in_t_dim=40, in_f_dim=16"),
        "{text}"
    );
    assert!(
        stderr(&export).contains("note: the cnn classifier has no PyTorch"),
        "{}",
        stderr(&export)
    );
    assert!(file.is_file());

    // Fine-tune from the run folder, then overwrite the layer from the export: both said.
    let second = tmp.path().join("second");
    let run = train(
        &data,
        &second,
        &[
            "--features",
            "kaldi",
            "--normalize",
            "-6.6,5.4",
            "--init",
            first.to_str().unwrap(),
            "--init",
            file.to_str().unwrap(),
        ],
    );
    let err = stderr(&run);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("initialised the model from"), "{err}");
    assert!(
        err.contains("initialised the DiffRes front end from"),
        "{err}"
    );

    // A layer checkpoint for a run without a DiffRes front end: one line, failure.
    let third = tmp.path().join("third");
    let run = train(
        &data,
        &third,
        &["--frontend", "avgpool", "--init", file.to_str().unwrap()],
    );
    let err = stderr(&run);
    assert!(!run.status.success());
    assert!(
        err.lines().last().unwrap().contains("--frontend diffres"),
        "{err}"
    );
}

#[test]
fn a_psla_checkpoint_initialises_an_efficientnet_with_the_psla_head() {
    let pth = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/psla/psla_effnet_b0_10cls.pth");
    if !pth.is_file() {
        eprintln!("SKIP: no PSLA checkpoint at {}", pth.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = common::synth(&tmp.path().join("synth"), 3);
    let run = train(
        &data,
        &tmp.path().join("psla"),
        &[
            "--frontend",
            "identity",
            "--model",
            "efficientnet-b0",
            "--head",
            "psla",
            "--features",
            "kaldi",
            "--init",
            pth.to_str().unwrap(),
        ],
    );
    let err = stderr(&run);
    assert!(run.status.success(), "{err}");
    // PSLA's 1-channel stem fits the identity front end; its 10-class head does not.
    assert!(err.contains("a PSLA EffNetAttention classifier"), "{err}");
    assert!(
        err.contains("10 classes") && err.contains("re-initialised"),
        "{err}"
    );
    assert!(!err.contains("stem is freshly"), "{err}");
}
