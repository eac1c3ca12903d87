//! Error type of the crate.
//!
//! Every error that concerns a file names the file and the reason, so that a batch job can
//! report exactly which input was bad. Display texts never repeat their `source()`: a caller
//! that prints the whole chain (e.g. `anyhow`'s `{:#}`) shows each cause exactly once.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::decode::{MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};

/// What a path that is not a regular file is, for [`AudioError::NotAFile`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A named pipe (FIFO). It is never opened: reading one would block.
    Fifo,
    /// A character device such as `/dev/zero`.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A Unix domain socket.
    Socket,
    /// Anything else that is not a regular file.
    Other,
}

impl FileKind {
    /// Classify a file type that is not a regular file.
    pub fn of(ft: &std::fs::FileType) -> Self {
        if ft.is_dir() {
            return FileKind::Directory;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if ft.is_fifo() {
                return FileKind::Fifo;
            }
            if ft.is_char_device() {
                return FileKind::CharDevice;
            }
            if ft.is_block_device() {
                return FileKind::BlockDevice;
            }
            if ft.is_socket() {
                return FileKind::Socket;
            }
        }
        FileKind::Other
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "is a directory",
            FileKind::Fifo => "is a named pipe (FIFO)",
            FileKind::CharDevice => "is a character device",
            FileKind::BlockDevice => "is a block device",
            FileKind::Socket => "is a socket",
            FileKind::Other => "not a regular file",
        })
    }
}

/// Errors returned by decoding, resampling, log-mel extraction and the feature cache.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read (missing file, permission denied, ...). The I/O
    /// error is the `source()`, not part of this message.
    #[error("{}: cannot read file", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The path exists but is not a regular file (a directory, FIFO, device, socket, ...).
    #[error("{}: {kind}", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: FileKind,
    },
    /// The container format was not recognised or the data is corrupt or truncated.
    #[error("{}: cannot decode audio: {reason}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The container was recognised but its codec is not supported.
    #[error("{}: unsupported codec: {reason}", path.display())]
    UnsupportedCodec {
        /// The file.
        path: PathBuf,
        /// Which codec or feature is missing.
        reason: String,
    },
    /// The file declares a sample rate outside [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`].
    #[error(
        "{}: sample rate {rate} Hz is outside the supported range {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz",
        path.display()
    )]
    SampleRate {
        /// The file.
        path: PathBuf,
        /// The declared rate (u64 so that any header value can be reported as is).
        rate: u64,
    },
    /// The file declares 0 channels or more than [`MAX_CHANNELS`].
    #[error(
        "{}: channel count {channels} is outside the supported range 1..={MAX_CHANNELS}",
        path.display()
    )]
    Channels {
        /// The file.
        path: PathBuf,
        /// The declared channel count.
        channels: u64,
    },
    /// The audio is longer than the decode limit (`DecodeOptions::max_samples`), either as
    /// declared by the header (rejected before decoding) or found while decoding.
    #[error("{}", too_long_message(path, *declared, *limit, *sample_rate))]
    TooLong {
        /// The file.
        path: PathBuf,
        /// The sample count the header declares, when the error comes from the header.
        declared: Option<u64>,
        /// The limit, in mono samples.
        limit: usize,
        /// The sample rate the limit was applied at (the file's, or the resampling target).
        sample_rate: u32,
    },
    /// The file decoded to zero samples.
    #[error("{}: audio has zero length", path.display())]
    EmptyAudio {
        /// The file.
        path: PathBuf,
    },
    /// The file contains NaN or infinite samples.
    #[error("{}: non-finite sample (NaN or inf) at index {index}", path.display())]
    NonFiniteFile {
        /// The file.
        path: PathBuf,
        /// Index of the first non-finite sample (after downmix to mono).
        index: usize,
    },
    /// A sample buffer passed directly (not from a file) is empty.
    #[error("empty signal: at least one sample is needed")]
    EmptySignal,
    /// A sample buffer passed directly (not from a file) contains NaN or infinite samples.
    #[error("non-finite sample (NaN or inf) at index {index}")]
    NonFinite {
        /// Index of the first non-finite sample.
        index: usize,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The resampler could not be built or failed.
    #[error("resampling failed: {0}")]
    Resample(String),
    /// The feature cache could not be used. The extractor no longer returns this (a cache
    /// problem is an [`AudioWarning::CacheNotWritable`](crate::AudioWarning), never a lost
    /// clip); kept so that callers matching on it still compile.
    #[error("{}: feature cache error: {reason}", path.display())]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

fn too_long_message(path: &Path, declared: Option<u64>, limit: usize, sample_rate: u32) -> String {
    // Hours for real limits; seconds when the limit is tiny (tests, tight configs), where
    // "0.00 hours" would say nothing.
    let secs = limit as f64 / sample_rate.max(1) as f64;
    let span = if secs >= 36.0 {
        format!("{:.2} hours", secs / 3600.0)
    } else {
        format!("{secs:.2} s")
    };
    let what = match declared {
        Some(n) => format!("header declares {n} samples, "),
        None => "audio is ".to_string(),
    };
    format!(
        "{}: {what}longer than the limit of {limit} samples ({span} at {sample_rate} Hz)",
        path.display()
    )
}

impl AudioError {
    /// Attach a file path to an error raised on a sample buffer (`EmptySignal`, `NonFinite`),
    /// so that batch errors always name the file. Other errors are returned unchanged.
    pub fn with_path(self, path: &std::path::Path) -> Self {
        match self {
            AudioError::EmptySignal => AudioError::EmptyAudio {
                path: path.to_path_buf(),
            },
            AudioError::NonFinite { index } => AudioError::NonFiniteFile {
                path: path.to_path_buf(),
                index,
            },
            other => other,
        }
    }
}

/// Result type of the crate.
pub type Result<T> = std::result::Result<T, AudioError>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// One value of every variant; the I/O one has a real OS error as its source.
    fn all_variants() -> Vec<AudioError> {
        let p = PathBuf::from("/data/clip.wav");
        let missing = std::fs::metadata("/definitely/not/here/clip.wav").unwrap_err();
        vec![
            AudioError::Io {
                path: p.clone(),
                source: missing,
            },
            AudioError::Io {
                path: p.clone(),
                source: std::io::Error::other("custom inner text"),
            },
            AudioError::NotAFile {
                path: p.clone(),
                kind: FileKind::Fifo,
            },
            AudioError::Decode {
                path: p.clone(),
                reason: "bad".into(),
            },
            AudioError::UnsupportedCodec {
                path: p.clone(),
                reason: "Opus".into(),
            },
            AudioError::SampleRate {
                path: p.clone(),
                rate: 0,
            },
            AudioError::Channels {
                path: p.clone(),
                channels: 0,
            },
            AudioError::TooLong {
                path: p.clone(),
                declared: Some(5),
                limit: 4,
                sample_rate: 16_000,
            },
            AudioError::EmptyAudio { path: p.clone() },
            AudioError::NonFiniteFile {
                path: p.clone(),
                index: 3,
            },
            AudioError::EmptySignal,
            AudioError::NonFinite { index: 1 },
            AudioError::InvalidConfig("x".into()),
            AudioError::Resample("y".into()),
            AudioError::Cache {
                path: p,
                reason: "z".into(),
            },
        ]
    }

    #[test]
    fn messages_do_not_repeat_their_source() {
        let mut with_source = 0;
        for e in all_variants() {
            let mut cur: &dyn std::error::Error = &e;
            while let Some(src) = cur.source() {
                with_source += 1;
                let (outer, inner) = (cur.to_string(), src.to_string());
                assert!(
                    !outer.contains(&inner),
                    "{e:?}: message {outer:?} repeats its source {inner:?}"
                );
                cur = src;
            }
        }
        // The two Io values have a source; otherwise the loop above checked nothing.
        assert_eq!(with_source, 2);
        // The chain printed anyhow-style names the OS error exactly once.
        let e = &all_variants()[0];
        let chain = format!("{e}: {}", e.source().unwrap());
        assert_eq!(
            chain.matches("No such file or directory").count(),
            1,
            "{chain}"
        );
        assert!(
            chain.starts_with("/data/clip.wav: cannot read file: "),
            "{chain}"
        );
    }

    #[test]
    fn too_long_and_kind_messages() {
        let e = AudioError::TooLong {
            path: "a.wav".into(),
            declared: None,
            limit: 57_600_000,
            sample_rate: 16_000,
        };
        assert_eq!(
            e.to_string(),
            "a.wav: audio is longer than the limit of 57600000 samples (1.00 hours at 16000 Hz)"
        );
        let e = AudioError::TooLong {
            path: "a.wav".into(),
            declared: Some(160_000),
            limit: 16_000,
            sample_rate: 8_000,
        };
        assert_eq!(
            e.to_string(),
            "a.wav: header declares 160000 samples, longer than the limit of 16000 samples \
             (2.00 s at 8000 Hz)"
        );
        let e = AudioError::NotAFile {
            path: "/dev/zero".into(),
            kind: FileKind::CharDevice,
        };
        assert_eq!(e.to_string(), "/dev/zero: is a character device");
        let e = AudioError::SampleRate {
            path: "b.wav".into(),
            rate: 0,
        };
        assert_eq!(
            e.to_string(),
            "b.wav: sample rate 0 Hz is outside the supported range 1000..=384000 Hz"
        );
    }
}
