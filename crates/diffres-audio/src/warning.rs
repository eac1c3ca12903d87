//! Non-fatal problems: the result is usable, but the caller should be told.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem that did not stop decoding or feature extraction. Carried in
/// [`DecodedAudio::warnings`](crate::DecodedAudio) and
/// [`Features::warnings`](crate::Features); `Display` names the file, so a caller can print
/// each warning as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AudioWarning {
    /// The header declares more samples than the file holds (e.g. a WAV whose data chunk says
    /// 10 s but whose payload stops after 0.1 s). What is there was decoded.
    Truncated {
        /// The audio file.
        path: PathBuf,
        /// Samples per channel declared by the header.
        declared_frames: u64,
        /// Samples per channel actually decoded.
        decoded_frames: u64,
        /// Sample rate of the file in Hz (to report the durations).
        sample_rate: u32,
    },
    /// The stream ended with an error (or a change of stream parameters) after some audio had
    /// been decoded; the audio decoded up to that point is kept.
    DecodeStopped {
        /// The audio file.
        path: PathBuf,
        /// Samples per channel decoded before the stop.
        decoded_frames: u64,
        /// Why decoding stopped.
        reason: String,
    },
    /// Some packets could not be decoded and were skipped (their audio is missing).
    CorruptPackets {
        /// The audio file.
        path: PathBuf,
        /// Number of packets skipped.
        skipped: u64,
        /// The last decoder error.
        last_error: String,
    },
    /// The feature cache could not be used for writing (or at all): the features were computed
    /// and returned, but not stored, so the next run recomputes them.
    CacheNotWritable {
        /// The cache entry or cache directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl AudioWarning {
    /// The file or directory the warning is about.
    pub fn path(&self) -> &Path {
        match self {
            AudioWarning::Truncated { path, .. }
            | AudioWarning::DecodeStopped { path, .. }
            | AudioWarning::CorruptPackets { path, .. }
            | AudioWarning::CacheNotWritable { path, .. } => path,
        }
    }

    /// The same warning about another path (used when a cached warning is replayed for the
    /// path the caller passed this time).
    pub(crate) fn with_path(mut self, new: &Path) -> Self {
        match &mut self {
            AudioWarning::Truncated { path, .. }
            | AudioWarning::DecodeStopped { path, .. }
            | AudioWarning::CorruptPackets { path, .. }
            | AudioWarning::CacheNotWritable { path, .. } => *path = new.to_path_buf(),
        }
        self
    }
}

impl fmt::Display for AudioWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AudioWarning::Truncated {
                path,
                declared_frames,
                decoded_frames,
                sample_rate,
            } => {
                let sr = (*sample_rate).max(1) as f64;
                write!(
                    f,
                    "{}: file is truncated: header declares {declared_frames} samples ({:.3} s) \
                     but only {decoded_frames} ({:.3} s) are present; using what is there",
                    path.display(),
                    *declared_frames as f64 / sr,
                    *decoded_frames as f64 / sr,
                )
            }
            AudioWarning::DecodeStopped {
                path,
                decoded_frames,
                reason,
            } => write!(
                f,
                "{}: decoding stopped after {decoded_frames} samples ({reason}); \
                 using what was decoded",
                path.display()
            ),
            AudioWarning::CorruptPackets {
                path,
                skipped,
                last_error,
            } => write!(
                f,
                "{}: skipped {skipped} corrupt packet(s) (last error: {last_error})",
                path.display()
            ),
            AudioWarning::CacheNotWritable { path, reason } => write!(
                f,
                "{}: feature cache not writable: {reason}",
                path.display()
            ),
        }
    }
}
