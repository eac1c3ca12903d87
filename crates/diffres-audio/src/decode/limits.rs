//! The bounds a file's sample rate, channel count and length must respect, checked before
//! anything large is allocated.

use std::path::Path;

use crate::error::{AudioError, Result};

/// Lowest sample rate accepted from a file, in Hz. Lower header values are corrupt (0 Hz makes
/// symphonia panic) or would make resampling to 16 kHz enormous (1 Hz: 16,000x upsampling).
pub const MIN_SAMPLE_RATE: u32 = 1_000;
/// Highest sample rate accepted from a file, in Hz (the highest rate in common use; beyond it
/// the resampler's block size, and so its memory, grows with the rate).
pub const MAX_SAMPLE_RATE: u32 = 384_000;
/// Highest channel count accepted from a file.
pub const MAX_CHANNELS: usize = 256;
/// Default bound on decoded mono samples: 2^28, about 4.6 hours at 16 kHz or 1 GiB of `f32`.
pub const MAX_DECODED_SAMPLES: usize = 1 << 28;

/// `rate` must lie in [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`].
pub(super) fn check_sample_rate(path: &Path, rate: u64) -> Result<()> {
    if (MIN_SAMPLE_RATE as u64..=MAX_SAMPLE_RATE as u64).contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::SampleRate {
            path: path.to_path_buf(),
            rate,
        })
    }
}

/// `channels` must lie in 1..=[`MAX_CHANNELS`].
pub(super) fn check_channels(path: &Path, channels: u64) -> Result<()> {
    if (1..=MAX_CHANNELS as u64).contains(&channels) {
        Ok(())
    } else {
        Err(AudioError::Channels {
            path: path.to_path_buf(),
            channels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_rate_and_channel_bounds() {
        let p = Path::new("x.wav");
        for ok in [1_000u64, 16_000, 44_100, 384_000] {
            assert!(check_sample_rate(p, ok).is_ok(), "{ok}");
        }
        for bad in [0u64, 1, 999, 384_001, u32::MAX as u64] {
            assert!(
                matches!(check_sample_rate(p, bad), Err(AudioError::SampleRate { rate, .. }) if rate == bad),
                "{bad}"
            );
        }
        assert!(check_channels(p, 1).is_ok() && check_channels(p, 256).is_ok());
        assert!(check_channels(p, 0).is_err() && check_channels(p, 257).is_err());
    }
}
