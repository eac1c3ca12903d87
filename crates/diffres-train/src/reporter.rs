//! How long work reports itself: progress bars, information lines, notes and warnings.
//!
//! Library code never prints on its own: it tells a [`Reporter`], which the caller chooses.
//! [`Console`] is the command line's: progress bars and per-epoch lines on stderr unless
//! quiet, and notes and warnings always, because they change what the numbers mean.

use std::fmt::Debug;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where training, evaluation and experiments report their progress.
pub trait Reporter: Send + Sync + Debug {
    /// A progress bar of `len` steps labelled `prefix` (hidden when this reporter shows none).
    fn bar(&self, len: u64, prefix: &str) -> ProgressBar;
    /// A line of progress information (dataset summary, per-epoch metrics).
    fn info(&self, line: &str);
    /// Something the user should know about the input (a held-out validation split, a
    /// missing test split).
    fn note(&self, line: &str);
    /// Something wrong but usable (a truncated file, a skipped file, an unwritable cache).
    fn warn(&self, line: &str);
}

/// A shared reporter.
pub type SharedReporter = Arc<dyn Reporter>;

/// The command line's reporter: stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Console {
    /// Show progress bars and information lines (`--quiet` turns them off; notes and
    /// warnings are shown either way).
    pub progress: bool,
}

impl Console {
    /// A console reporter; `progress: false` is `--quiet`.
    pub fn new(progress: bool) -> Self {
        Self { progress }
    }

    /// No progress bars or information lines; notes and warnings only.
    pub fn quiet() -> Self {
        Self::new(false)
    }

    /// This reporter, shared.
    pub fn shared(self) -> SharedReporter {
        Arc::new(self)
    }
}

impl Reporter for Console {
    fn bar(&self, len: u64, prefix: &str) -> ProgressBar {
        let bar = ProgressBar::new(len);
        if !self.progress {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>12.cyan.bold} [{bar:30.green/white}] {pos}/{len} {msg} ({per_sec}, ETA {eta})",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar.set_prefix(prefix.to_string());
        bar
    }

    fn info(&self, line: &str) {
        if self.progress {
            eprintln!("{line}");
        }
    }

    fn note(&self, line: &str) {
        eprintln!("note: {line}");
    }

    fn warn(&self, line: &str) {
        eprintln!("warning: {line}");
    }
}

/// Reports at most `limit` warnings one by one, then how many more there were.
pub fn warn_all(reporter: &dyn Reporter, warnings: &[String], limit: usize) {
    for w in warnings.iter().take(limit) {
        reporter.warn(w);
    }
    if warnings.len() > limit {
        reporter.warn(&format!(
            "... and {} more warnings like these",
            warnings.len() - limit
        ));
    }
}
