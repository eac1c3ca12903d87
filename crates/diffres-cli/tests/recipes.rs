//! `--recipe` and the options it sets, from the command line.

mod common;
use common::{assert_one_line_errors, diffres, stderr, synth};

#[test]
fn a_recipe_fills_in_what_the_command_line_leaves_out_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = synth(&tmp.path().join("data"), 3);
    let out = tmp.path().join("run");
    let args = [
        "train",
        "--recipe",
        "speechcommands",
        "--data",
        manifest.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        // What a 2-core test can afford instead of EfficientNet-B2 for 60 epochs.
        "--model",
        "cnn",
        "--head",
        "logits",
        "--epochs",
        "2",
        "--average-from",
        "1",
        "--batch-size",
        "4",
        "--mels",
        "32",
        "--frames",
        "50",
        "--cache-dir",
        "none",
        "--quiet",
    ];
    let run = diffres(&args);
    let err = stderr(&run);
    assert!(run.status.success(), "{err}");
    let note = err
        .lines()
        .find(|l| l.starts_with("note: recipe speechcommands: "))
        .unwrap_or_else(|| panic!("no recipe note in {err}"));
    for set in [
        "--lr 0.00025",
        "--lr-schedule 25,0.9,1",
        "--features kaldi",
        "--freq-mask 48",
        "--mixup 0.6",
        "--mixup-on waveform",
        "--loss bce",
        "--normalize auto",
        "--adam-beta1 0.95",
    ] {
        assert!(note.contains(set), "{set} missing from {note}");
    }
    assert!(
        note.ends_with(
            "(given on the command line instead: --model --head --mels --epochs --batch-size --frames --average-from)"
        ),
        "{note}"
    );
    assert!(err.contains("note: recipe speechcommands: the script decays the rate by 0.85"));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    let c = &config["config"];
    assert_eq!(c["recipe"], "speechcommands");
    assert_eq!(c["lr"], 0.00025);
    assert_eq!(c["epochs"], 2);
    assert_eq!(c["model"], "cnn");
    assert_eq!(c["mixup"], 0.6);
    assert_eq!(c["mixup_on"], "waveform");
    assert_eq!(c["loss"], "bce");
    assert_eq!(c["average_from"], 1);
    assert!(c["normalize"]["std"].as_f64().unwrap() > 0.0, "{c}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["evaluated_model"], "averaged");
}

#[test]
fn recipe_options_refuse_bad_values_in_one_line() {
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
                "--recipe",
                "librispeech",
            ],
            "--recipe 'librispeech'",
        ),
        (
            vec!["train", "--data", ".", "--out", out, "--loss", "hinge"],
            "--loss 'hinge'",
        ),
        (
            vec!["train", "--data", ".", "--out", out, "--mixup", "1.5"],
            "--mixup 1.5",
        ),
        (
            vec!["train", "--data", ".", "--out", out, "--normalize", "loud"],
            "normalisation 'loud'",
        ),
        (
            vec![
                "train", "--data", ".", "--out", out, "--recipe", "audioset", "--epochs", "3",
            ],
            "--average-from 16: expected an epoch from 1 to --epochs (3) (recipe audioset sets it",
        ),
    ]);
}
