//! Running the `diffres` binary from the CLI's integration tests.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `diffres` with `args` and waits for it.
pub fn diffres(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffres"))
        .args(args)
        .output()
        .expect("run diffres")
}

/// What a run printed on stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What a run printed on stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Each command fails with one line, `error: ...` containing its needle, and no panic.
pub fn assert_one_line_errors(cases: &[(Vec<&str>, &str)]) {
    for (args, needle) in cases {
        let result = diffres(args);
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

/// `diffres synth` into `dir` with `clips_per_class` clips of 0.5 s; the manifest's path.
pub fn synth(dir: &std::path::Path, clips_per_class: usize) -> std::path::PathBuf {
    let n = clips_per_class.to_string();
    let out = diffres(&[
        "synth",
        "--out",
        dir.to_str().unwrap(),
        "--clips-per-class",
        &n,
        "--seconds",
        "0.5",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    dir.join("manifest.csv")
}
