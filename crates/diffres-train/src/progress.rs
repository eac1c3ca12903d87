//! Progress bars (indicatif), silenced for tests and `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar with the project's style; hidden when `visible` is false.
pub fn bar(len: u64, message: &str, visible: bool) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if !visible {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>12.cyan.bold} [{bar:30.green/white}] {pos}/{len} {msg} ({per_sec}, ETA {eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_prefix(message.to_string());
    bar
}
