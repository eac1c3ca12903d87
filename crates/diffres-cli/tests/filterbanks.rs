//! `--filterbank` from the command line: LEAF + DiffRes trains, predicts and visualises its
//! filters; what cannot work is a one-line error.

mod common;
use common::{assert_one_line_errors, diffres, stderr, stdout, synth};

#[test]
fn leaf_with_diffres_trains_predicts_and_draws_its_filters() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = synth(&tmp.path().join("data"), 3);
    let run = tmp.path().join("run");
    let train = diffres(&[
        "train",
        "--data",
        manifest.to_str().unwrap(),
        "--filterbank",
        "leaf",
        "--frontend",
        "diffres",
        "--reduction",
        "0.5",
        "--mels",
        "16",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--cnn-width",
        "4",
        "--out",
        run.to_str().unwrap(),
        "--cache-dir",
        "none",
        "--quiet",
    ]);
    assert!(train.status.success(), "{}", stderr(&train));
    assert!(
        stdout(&train).contains("(50 -> 25 frames, 50 FPS)"),
        "{}",
        stdout(&train)
    );
    let clip = std::fs::read_dir(tmp.path().join("data").join("audio").join("beep"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let predict = diffres(&[
        "predict",
        "--run",
        run.to_str().unwrap(),
        clip.to_str().unwrap(),
    ]);
    assert!(predict.status.success(), "{}", stderr(&predict));
    let figs = tmp.path().join("figs");
    let visualize = diffres(&[
        "visualize",
        "--run",
        run.to_str().unwrap(),
        clip.to_str().unwrap(),
        "--out",
        figs.to_str().unwrap(),
    ]);
    assert!(visualize.status.success(), "{}", stderr(&visualize));
    assert!(
        stdout(&visualize).contains("filters.png"),
        "{}",
        stdout(&visualize)
    );
    let png = image::open(figs.join("filters.png")).unwrap();
    assert_eq!((png.width(), png.height()), (1400, 600));
}

#[test]
fn filterbank_options_refuse_what_cannot_work_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let out = out.to_str().unwrap();
    assert_one_line_errors(&[
        (
            vec![
                "train",
                "--data",
                ".",
                "--out",
                out,
                "--filterbank",
                "gammatone",
            ],
            "--filterbank 'gammatone'",
        ),
        (
            vec![
                "train",
                "--data",
                ".",
                "--out",
                out,
                "--filterbank",
                "leaf",
                "--features",
                "kaldi",
            ],
            "--features kaldi does not apply",
        ),
        (
            vec![
                "train",
                "--data",
                ".",
                "--out",
                out,
                "--filterbank",
                "sincnet",
                "--specaugment",
            ],
            "SpecAugment",
        ),
        (
            vec![
                "experiment",
                "--data",
                ".",
                "--out",
                out,
                "--filterbanks",
                "mel,wavelets",
            ],
            "--filterbank 'wavelets'",
        ),
        (
            vec![
                "experiment",
                "--data",
                ".",
                "--out",
                out,
                "--filterbanks",
                "mel",
                "--diffres-hop-ms",
                "20",
            ],
            "--diffres-hop-ms 20",
        ),
    ]);
}
