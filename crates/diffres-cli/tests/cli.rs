//! The `diffres` binary: help, one-line errors with a non-zero exit, and the quick demo.

use std::path::Path;

mod common;
use common::{assert_one_line_errors, diffres, stderr, stdout};

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
    // `experiment` takes lists of front ends and reductions: the single-run flags would be
    // ignored, so its help does not offer them.
    let experiment =
        String::from_utf8_lossy(&diffres(&["experiment", "--help"]).stdout).into_owned();
    for flag in ["--frontends", "--reductions", "--seeds", "--data"] {
        assert!(
            experiment.contains(flag),
            "experiment --help documents {flag}"
        );
    }
    for flag in ["--frontend ", "--reduction "] {
        assert!(
            !experiment.contains(flag),
            "experiment --help offers {flag}"
        );
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
            vec!["eval", "--run", "/definitely/not/here"],
            "no such run folder",
        ),
        (
            vec!["predict", "--run", "/definitely/not/here", "x.wav"],
            "no such run folder",
        ),
    ];
    // A build without the GPU feature names it; a GPU build gets past the device.
    #[cfg(not(any(feature = "wgpu", feature = "vulkan")))]
    let cases = {
        let mut cases = cases;
        cases.push((
            vec!["train", "--data", ".", "--out", out, "--device", "wgpu"],
            "--device wgpu",
        ));
        cases
    };
    assert_one_line_errors(&cases);
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
    // The summary goes to stderr; stdout is JSON only with --json.
    assert!(
        eval.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&eval.stdout)
    );
    assert!(stderr(&eval).contains("accuracy"), "{}", stderr(&eval));
    let eval = diffres(&["eval", "--quiet", "--json", "--run", run.to_str().unwrap()]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let parsed: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(parsed["metric"], "accuracy");
    let predict = diffres(&[
        "predict",
        "--json",
        "--run",
        run.to_str().unwrap(),
        clip.to_str().unwrap(),
    ]);
    assert!(predict.status.success(), "{}", stderr(&predict));
    let parsed: serde_json::Value = serde_json::from_slice(&predict.stdout).unwrap();
    let labels = parsed[0]["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 3);
    assert!(labels[0]["label"].is_string() && labels[0]["score"].is_number());
    // A 1.01 s clip (101 frames) and the demo's 101-frame window: one window covers it.
    let windows = parsed[0]["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0]["start_s"], 0.0);
    assert_eq!(windows[0]["end_s"], parsed[0]["duration_s"]);
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
    let stem = clip.file_stem().unwrap().to_string_lossy().into_owned();
    let warp = format!("{stem}-warp.png");
    for name in ["activeness.png", "guide_loss.png", &warp, "confusion.png"] {
        let path = figs.join(name);
        assert!(image::open(&path).is_ok(), "{name}");
        assert!(stdout(&vis).contains(path.to_str().unwrap()), "{name}");
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

#[test]
fn esc50_cross_validation_runs_every_fold() {
    let tmp = tempfile::tempdir().unwrap();
    // A tiny ESC-50 layout from synthetic clips: 2 classes x 5 folds x 2 clips.
    let synth = tmp.path().join("synth");
    let gen = diffres(&[
        "synth",
        "--out",
        synth.to_str().unwrap(),
        "--clips-per-class",
        "10",
        "--seconds",
        "0.5",
    ]);
    assert!(gen.status.success(), "{}", stderr(&gen));
    let esc = tmp.path().join("ESC-50");
    std::fs::create_dir_all(esc.join("meta")).unwrap();
    std::fs::create_dir_all(esc.join("audio")).unwrap();
    let mut csv = String::from("filename,fold,target,category,esc10,src_file,take\n");
    for (target, class) in ["beep", "hum"].iter().enumerate() {
        let mut files: Vec<_> = std::fs::read_dir(synth.join("audio").join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for (i, file) in files.iter().enumerate() {
            let name = format!("{}-{class}-{i}.wav", i % 5 + 1);
            std::fs::copy(file, esc.join("audio").join(&name)).unwrap();
            csv.push_str(&format!(
                "{name},{},{target},{class},False,x,A\n",
                i % 5 + 1
            ));
        }
    }
    std::fs::write(esc.join("meta").join("esc50.csv"), csv).unwrap();
    let out = tmp.path().join("cv");
    let args = [
        "train",
        "--cv",
        "--quiet",
        "--data",
        esc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--frontend",
        "avgpool",
        "--mels",
        "16",
        "--frames",
        "30",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--cnn-width",
        "4",
        "--cache-dir",
        "none",
    ];
    let result = diffres(&args);
    assert!(result.status.success(), "{}", stderr(&result));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("cv.json")).unwrap()).unwrap();
    assert_eq!(summary["folds"].as_array().unwrap().len(), 5);
    for fold in 1..=5 {
        let results: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("fold-{fold}")).join("results.json"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(results["clips"][2], 4, "fold {fold} holds 4 test clips");
    }
    // --cv on a dataset that is not ESC-50 is refused.
    let bad = diffres(&[
        "train",
        "--cv",
        "--data",
        synth.join("manifest.csv").to_str().unwrap(),
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("--cv needs an ESC-50 dataset"),
        "{}",
        stderr(&bad)
    );

    // The same five folds inside `experiment`: a table per fold and one over all of them.
    let grid = tmp.path().join("grid");
    let mut args: Vec<&str> = args[..].to_vec();
    args[0] = "experiment";
    let out_at = args.iter().position(|a| *a == "--out").unwrap() + 1;
    args[out_at] = grid.to_str().unwrap();
    let front_at = args.iter().position(|a| *a == "--frontend").unwrap();
    args.drain(front_at..front_at + 2);
    args.extend([
        "--frontends",
        "avgpool",
        "--reductions",
        "0.5",
        "--seeds",
        "1",
    ]);
    let result = diffres(&args);
    assert!(result.status.success(), "{}", stderr(&result));
    for fold in 1..=5 {
        assert!(grid.join(format!("fold-{fold}")).join("table.md").is_file());
    }
    let table = std::fs::read_to_string(grid.join("table.md")).unwrap();
    assert!(table.contains("n=5"), "mean over the five folds: {table}");
}

/// The quick demo on the GPU (lavapipe in CI), then its DiffRes run evaluated, predicted and
/// visualised there too (`--device wgpu`).
#[cfg(feature = "wgpu")]
#[test]
fn wgpu_quick_demo_then_eval_predict_visualize_on_the_gpu() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    let demo = diffres(&[
        "demo",
        "--quick",
        "--quiet",
        "--device",
        "wgpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(demo.status.success(), "{}", stderr(&demo));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("DiffRes") && report.contains("figures/"));
    let run = out.join("runs").join("diffres-0.75").join("seed-1");
    let run = run.to_str().unwrap();
    let clip = first_wav(&out.join("data").join("audio").join("beep"));
    let clip = clip.to_str().unwrap();
    let figs = tmp.path().join("figs");
    for args in [
        vec![
            "eval", "--quiet", "--json", "--device", "wgpu", "--run", run,
        ],
        vec!["predict", "--json", "--device", "wgpu", "--run", run, clip],
        vec![
            "visualize",
            "--device",
            "wgpu",
            "--run",
            run,
            "--out",
            figs.to_str().unwrap(),
            clip,
        ],
    ] {
        let result = diffres(&args);
        assert!(result.status.success(), "{args:?}: {}", stderr(&result));
    }
    assert!(figs.join("activeness.png").is_file());
}

/// A run folder as `diffres visualize --compare` reads it: config.json naming the classes and
/// results.json with a test evaluation of the given per-class values.
fn crafted_run(dir: &Path, classes: &[&str], multi_label: bool, per_class: &[Option<f64>]) {
    std::fs::create_dir_all(dir).unwrap();
    let config = serde_json::json!({ "classes": classes });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let (task, metric, key) = if multi_label {
        ("multi_label", "mAP", "per_class_ap")
    } else {
        ("single_label", "accuracy", "per_class_accuracy")
    };
    let mut test = serde_json::json!({
        "task": task, "accuracy": null, "top5": null, "map": null, "auc": null,
        "d_prime": null, "n": 10, "n_nan": 0,
    });
    test[key] = serde_json::json!(per_class);
    let results = serde_json::json!({
        "frontend": "diffres", "reduction": 0.5, "seed": 1, "fps": 50.0, "metric": metric,
        "test_metric": 0.5, "test": test,
    });
    std::fs::write(dir.join("results.json"), results.to_string()).unwrap();
}

#[test]
fn visualize_compare_writes_figure_10a() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("hop-40"), tmp.path().join("hop-10"));
    let classes = ["speech", "dog", "rain", "siren"];
    crafted_run(
        &a,
        &classes,
        true,
        &[Some(0.5), Some(0.75), Some(0.25), None],
    );
    crafted_run(
        &b,
        &classes,
        true,
        &[Some(0.75), Some(0.25), Some(0.25), Some(1.0)],
    );
    let out = tmp.path().join("figs");
    let vis = diffres(&[
        "visualize",
        "--compare",
        a.to_str().unwrap(),
        b.join("results.json").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(vis.status.success(), "{}", stderr(&vis));
    let csv = std::fs::read_to_string(out.join("per-class-ap.csv")).unwrap();
    assert_eq!(
        csv,
        "class,a,b,change\nspeech,0.5,0.75,0.25\nrain,0.25,0.25,0\ndog,0.75,0.25,-0.5\n"
    );
    let png = image::open(out.join("per-class-ap.png")).unwrap();
    assert_eq!((png.width(), png.height()), (1200, 650));
    let note = stderr(&vis);
    assert!(
        note.contains("1 of 3 classes gain") && note.contains("1 classes without a value"),
        "{note}"
    );
    // Single-label runs compare per-class accuracy.
    let (c, d) = (tmp.path().join("c"), tmp.path().join("d"));
    crafted_run(&c, &classes[..2], false, &[Some(1.0), Some(0.5)]);
    crafted_run(&d, &classes[..2], false, &[Some(0.5), Some(0.5)]);
    let vis = diffres(&[
        "visualize",
        "--compare",
        c.to_str().unwrap(),
        d.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(vis.status.success(), "{}", stderr(&vis));
    let csv = std::fs::read_to_string(out.join("per-class-accuracy.csv")).unwrap();
    assert_eq!(csv, "class,a,b,change\ndog,0.5,0.5,0\nspeech,1,0.5,-0.5\n");
    // Different classes, different tasks, no per-class values, a missing file: one line.
    let (e, f) = (tmp.path().join("e"), tmp.path().join("f"));
    crafted_run(&e, &["speech", "cat"], false, &[Some(1.0), Some(0.5)]);
    crafted_run(&f, &classes[..2], false, &[]);
    let (a, b, c, e, f) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
        e.to_str().unwrap(),
        f.to_str().unwrap(),
    );
    let o = out.to_str().unwrap();
    assert_one_line_errors(&[
        (
            vec!["visualize", "--compare", c, e, "--out", o],
            "different class lists",
        ),
        (
            vec!["visualize", "--compare", a, c, "--out", o],
            "multi-label but",
        ),
        (
            vec!["visualize", "--compare", c, f, "--out", o],
            "no per-class accuracy",
        ),
        (
            vec![
                "visualize",
                "--compare",
                b,
                "/definitely/not/here",
                "--out",
                o,
            ],
            "/definitely/not/here",
        ),
        (vec!["visualize", "--compare", a, "--out", o], "--compare"),
        (vec!["visualize", "--out", o], "--run RUN"),
        (
            vec!["visualize", "--compare", a, b, "--out", o, "x.wav"],
            "need --run",
        ),
    ]);
}
