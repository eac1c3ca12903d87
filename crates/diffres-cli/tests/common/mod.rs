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
