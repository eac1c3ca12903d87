//! The `diffres` binary: help, one-line errors with a non-zero exit, and the quick demo.

use std::path::Path;
use std::process::{Command, Output};

fn diffres(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffres"))
        .args(args)
        .output()
        .expect("run diffres")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn every_command_has_help() {
    let top = diffres(&["--help"]);
    assert!(top.status.success());
    let text = String::from_utf8_lossy(&top.stdout);
    for cmd in [
        "demo",
        "train",
        "eval",
        "predict",
        "visualize",
        "experiment",
        "synth",
    ] {
        assert!(text.contains(cmd), "top-level help lists {cmd}");
        let help = diffres(&[cmd, "--help"]);
        assert!(help.status.success(), "{cmd} --help");
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("Usage: diffres"),
            "{cmd}"
        );
    }
    let train = String::from_utf8_lossy(&diffres(&["train", "--help"]).stdout).into_owned();
    for flag in [
        "--data",
        "--frontend",
        "--reduction",
        "--hop-ms",
        "--mels",
        "--model",
        "--epochs",
        "--resume",
        "--lr-schedule",
        "--specaugment",
        "--mixup",
        "--device",
    ] {
        assert!(train.contains(flag), "train --help documents {flag}");
    }
}

#[test]
fn bad_input_is_one_line_and_a_failure_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let out = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["train", "--data", "/definitely/not/here", "--out", out],
            "does not exist",
        ),
        (
            vec!["train", "--data", ".", "--out", out, "--reduction", "1.5"],
            "--reduction 1.5",
        ),
        (
            vec!["train", "--data", ".", "--out", out, "--frontend", "pool"],
            "unknown front end 'pool'",
        ),
        (
            vec!["train", "--data", ".", "--out", out, "--model", "resnet"],
            "unknown model 'resnet'",
        ),
        (
            vec!["train", "--data", ".", "--out", out, "--device", "wgpu"],
            "--device wgpu",
        ),
        (
            vec!["eval", "--run", "/definitely/not/here"],
            "no such run folder",
        ),
        (
            vec!["predict", "--run", "/definitely/not/here", "x.wav"],
            "no such run folder",
        ),
    ];
    for (args, needle) in cases {
        let result = diffres(&args);
        assert!(!result.status.success(), "{args:?} must fail");
        let err = stderr(&result);
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line, got {err}"
        );
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn quick_demo_then_eval_predict_visualize() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    let result = diffres(&["demo", "--quick", "--quiet", "--out", out.to_str().unwrap()]);
    assert!(result.status.success(), "{}", stderr(&result));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in [
        "Baseline (identity, 100 FPS)",
        "DiffRes",
        "AvgPool",
        "ChangeHopSize",
        "figures/",
    ] {
        assert!(report.contains(needle), "report.md mentions {needle}");
    }
    let run = out.join("runs").join("diffres-0.75").join("seed-1");
    let clip = first_wav(&out.join("data").join("audio").join("beep"));
    let eval = diffres(&["eval", "--quiet", "--run", run.to_str().unwrap()]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert!(String::from_utf8_lossy(&eval.stdout).contains("accuracy"));
    let predict = diffres(&[
        "predict",
        "--json",
        "--run",
        run.to_str().unwrap(),
        clip.to_str().unwrap(),
    ]);
    assert!(predict.status.success(), "{}", stderr(&predict));
    let parsed: serde_json::Value = serde_json::from_slice(&predict.stdout).unwrap();
    assert_eq!(parsed[0]["top"].as_array().unwrap().len(), 3);
    let figs = tmp.path().join("figs");
    let vis = diffres(&[
        "visualize",
        "--run",
        run.to_str().unwrap(),
        "--out",
        figs.to_str().unwrap(),
        clip.to_str().unwrap(),
    ]);
    assert!(vis.status.success(), "{}", stderr(&vis));
    for name in ["activeness.png", "guide_loss.png"] {
        assert!(figs.join(name).is_file(), "{name}");
    }
    // Rerunning the demo reuses every finished run.
    let again = diffres(&["demo", "--quick", "--out", out.to_str().unwrap()]);
    assert!(again.status.success());
    assert!(stderr(&again).contains("(done)"));
}

fn first_wav(dir: &Path) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.remove(0)
}
