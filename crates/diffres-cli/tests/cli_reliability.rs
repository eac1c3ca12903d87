//! The command line as a user meets it: `--resume` alone, one writer per run folder, the
//! spellings in `config.json`, folders and bad files in `predict`, completions, `--threads`.

mod common;
use common::{diffres, stderr, stdout, synth};

/// `train` arguments for a one-epoch run of a tiny model.
fn tiny_train<'a>(data: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--quiet",
        "--data",
        data,
        "--out",
        out,
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
    ]
}

#[test]
fn resume_alone_continues_from_config_json_and_refuses_other_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = synth(&tmp.path().join("data"), 6);
    let run = tmp.path().join("run");
    let (data, run_s) = (data.to_str().unwrap(), run.to_str().unwrap());
    let first = diffres(&tiny_train(data, run_s));
    assert!(first.status.success(), "{}", stderr(&first));
    // The command line's spellings, not Rust variant names.
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["config"]["model"], "cnn");
    assert_eq!(config["config"]["score_norm"], "exact");
    assert_eq!(config["config"]["frontend"], "avgpool");
    assert_eq!(config["format_version"], 2);

    // Only --out and --resume (and --epochs to extend it).
    let more = diffres(&[
        "train", "--quiet", "--out", run_s, "--resume", "--epochs", "2",
    ]);
    assert!(more.status.success(), "{}", stderr(&more));
    let lines = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2);
    assert!(stdout(&more).contains("avgpool"), "{}", stdout(&more));

    let changed = diffres(&["train", "--out", run_s, "--resume", "--mels", "32"]);
    assert!(!changed.status.success());
    let err = stderr(&changed);
    assert!(err.contains("cannot change --mels"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let no_data = diffres(&["train", "--out", tmp.path().join("new").to_str().unwrap()]);
    assert!(
        stderr(&no_data).contains("--data is required"),
        "{}",
        stderr(&no_data)
    );
}

#[test]
fn a_second_process_cannot_train_into_a_locked_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let data = synth(&tmp.path().join("data"), 6);
    let run = tmp.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    // This test process is the first writer.
    let lock = diffres_train::lock::RunLock::acquire(&run).unwrap();
    let second = diffres(&tiny_train(data.to_str().unwrap(), run.to_str().unwrap()));
    assert!(!second.status.success());
    let err = stderr(&second);
    assert!(
        err.contains("is training into this folder")
            && err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(!run.join("config.json").exists());
    drop(lock);
    let third = diffres(&tiny_train(data.to_str().unwrap(), run.to_str().unwrap()));
    assert!(third.status.success(), "{}", stderr(&third));
}

#[test]
fn predict_takes_folders_keeps_going_and_fails_at_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let data = synth(&tmp.path().join("data"), 6);
    let run = tmp.path().join("run");
    let trained = diffres(&tiny_train(data.to_str().unwrap(), run.to_str().unwrap()));
    assert!(trained.status.success(), "{}", stderr(&trained));
    let folder = tmp.path().join("in");
    std::fs::create_dir_all(&folder).unwrap();
    let beep = tmp.path().join("data").join("audio").join("beep");
    let first = std::fs::read_dir(&beep)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::copy(&first, folder.join("good.wav")).unwrap();
    std::fs::write(folder.join("bad.wav"), "not audio").unwrap();
    let out = diffres(&[
        "predict",
        "--json",
        "--run",
        run.to_str().unwrap(),
        folder.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "a failed file makes the exit non-zero"
    );
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        parsed.as_array().unwrap().len(),
        1,
        "the good file is reported"
    );
    assert!(parsed[0]["file"].as_str().unwrap().ends_with("good.wav"));
    let err = stderr(&out);
    assert!(err.contains("bad.wav"), "{err}");
    assert!(err.contains("1 of 2 files could not be predicted"), "{err}");

    let zero = diffres(&[
        "predict",
        "--top-k",
        "0",
        "--run",
        run.to_str().unwrap(),
        folder.to_str().unwrap(),
    ]);
    assert!(!zero.status.success());
    assert_eq!(
        stderr(&zero).trim_end().lines().count(),
        1,
        "{}",
        stderr(&zero)
    );
    assert!(stderr(&zero).contains("--top-k"), "{}", stderr(&zero));
}

#[test]
fn completions_and_threads() {
    let bash = diffres(&["completions", "bash"]);
    assert!(bash.status.success(), "{}", stderr(&bash));
    let script = stdout(&bash);
    assert!(
        script.contains("_diffres") && script.contains("predict"),
        "{script}"
    );
    let bad = diffres(&["completions", "cmd.exe"]);
    assert!(!bad.status.success());
    let zero = diffres(&["--threads", "0", "synth", "--out", "x"]);
    assert!(!zero.status.success());
    assert!(stderr(&zero).contains("--threads"), "{}", stderr(&zero));
    // One thread is enough for a whole (tiny) training.
    let tmp = tempfile::tempdir().unwrap();
    let data = synth(&tmp.path().join("data"), 6);
    let run = tmp.path().join("run");
    let mut args = vec!["--threads", "1"];
    args.extend(tiny_train(data.to_str().unwrap(), run.to_str().unwrap()));
    let one = diffres(&args);
    assert!(one.status.success(), "{}", stderr(&one));
}
