//! The feature cache's entry format: encoding, and reading with validation (layout in the
//! [`crate::FeatureExtractor`] docs).

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::features::{CACHE_HEADER_LEN, CACHE_MAGIC, CACHE_VERSION};
use crate::mel::LogMelSpec;
use crate::warning::AudioWarning;

/// Offset of the SHA-256 field in the header.
const CHECKSUM_AT: usize = 24;

// Tags of the warning records in a cache entry (see `FeatureExtractor`).
const TAG_TRUNCATED: u8 = 1;
const TAG_DECODE_STOPPED: u8 = 2;
const TAG_CORRUPT_PACKETS: u8 = 3;

/// What [`read_cache`] found.
#[derive(Debug)]
pub(crate) enum CacheRead {
    /// A valid entry.
    Hit(LogMelSpec, Vec<AudioWarning>),
    /// No entry, or one that cannot be read (not counted as damage: nothing to repair).
    Missing,
    /// An entry that fails validation: recomputed and overwritten.
    Damaged,
}

fn put_text(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The bytes of a cache entry (layout in the [`crate::FeatureExtractor`] docs).
pub(crate) fn encode_entry(spec: &LogMelSpec, warnings: &[AudioWarning]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(spec.data.len() * 4 + 4);
    for v in &spec.data {
        payload.extend_from_slice(&v.to_le_bytes());
    }
    let stored: Vec<&AudioWarning> = warnings
        .iter()
        .filter(|w| !matches!(w, AudioWarning::CacheNotWritable { .. }))
        .collect();
    payload.extend_from_slice(&(stored.len() as u32).to_le_bytes());
    for w in stored {
        match w {
            AudioWarning::Truncated {
                declared_frames,
                decoded_frames,
                sample_rate,
                ..
            } => {
                payload.push(TAG_TRUNCATED);
                payload.extend_from_slice(&declared_frames.to_le_bytes());
                payload.extend_from_slice(&decoded_frames.to_le_bytes());
                payload.extend_from_slice(&sample_rate.to_le_bytes());
            }
            AudioWarning::DecodeStopped {
                decoded_frames,
                reason,
                ..
            } => {
                payload.push(TAG_DECODE_STOPPED);
                payload.extend_from_slice(&decoded_frames.to_le_bytes());
                put_text(&mut payload, reason);
            }
            AudioWarning::CorruptPackets {
                skipped,
                last_error,
                ..
            } => {
                payload.push(TAG_CORRUPT_PACKETS);
                payload.extend_from_slice(&skipped.to_le_bytes());
                put_text(&mut payload, last_error);
            }
            AudioWarning::CacheNotWritable { .. } => {}
        }
    }
    let mut bytes = Vec::with_capacity(CACHE_HEADER_LEN + payload.len());
    bytes.extend_from_slice(&CACHE_MAGIC);
    bytes.extend_from_slice(&CACHE_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(spec.frames as u64).to_le_bytes());
    bytes.extend_from_slice(&(spec.n_mels as u32).to_le_bytes());
    bytes.extend_from_slice(&Sha256::digest(&payload));
    bytes.extend_from_slice(&payload);
    bytes
}

/// A cursor over the warning records; every read is bounds-checked (`None` past the end).
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn text(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// The warning records of a payload tail; `None` unless they parse and end exactly at the end.
/// Warnings get an empty path; the caller sets the real one.
fn decode_warnings(tail: &[u8]) -> Option<Vec<AudioWarning>> {
    let mut c = Cursor(tail);
    let count = c.u32()?;
    let mut out = Vec::new();
    for _ in 0..count {
        let path = PathBuf::new();
        let w = match c.u8()? {
            TAG_TRUNCATED => AudioWarning::Truncated {
                path,
                declared_frames: c.u64()?,
                decoded_frames: c.u64()?,
                sample_rate: c.u32()?,
            },
            TAG_DECODE_STOPPED => AudioWarning::DecodeStopped {
                path,
                decoded_frames: c.u64()?,
                reason: c.text()?,
            },
            TAG_CORRUPT_PACKETS => AudioWarning::CorruptPackets {
                path,
                skipped: c.u64()?,
                last_error: c.text()?,
            },
            _ => return None,
        };
        out.push(w);
    }
    c.0.is_empty().then_some(out)
}

/// Read and verify a cache entry (layout in the [`crate::FeatureExtractor`] docs).
pub(crate) fn read_cache(entry: &Path, n_mels: usize) -> CacheRead {
    let Ok(bytes) = fs::read(entry) else {
        return CacheRead::Missing;
    };
    if bytes.len() < 12 || bytes[..8] != CACHE_MAGIC {
        return CacheRead::Damaged;
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != CACHE_VERSION {
        // The key covers the version, so another version under this key is damage.
        return CacheRead::Damaged;
    }
    if bytes.len() < CACHE_HEADER_LEN {
        return CacheRead::Damaged;
    }
    let payload = &bytes[CACHE_HEADER_LEN..];
    if Sha256::digest(payload)[..] != bytes[CHECKSUM_AT..CACHE_HEADER_LEN] {
        return CacheRead::Damaged;
    }
    let mut frames = [0u8; 8];
    frames.copy_from_slice(&bytes[12..20]);
    let frames = u64::from_le_bytes(frames);
    let mels = u32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]) as usize;
    if mels != n_mels {
        // n_mels is part of the key (via the config hash), so a different value under this
        // key is damage, not an entry of another config.
        return CacheRead::Damaged;
    }
    let Some(body_len) = usize::try_from(frames)
        .ok()
        .and_then(|f| f.checked_mul(mels)?.checked_mul(4))
    else {
        return CacheRead::Damaged;
    };
    if frames == 0 || payload.len() < body_len {
        return CacheRead::Damaged;
    }
    let (body, tail) = payload.split_at(body_len);
    let Some(warnings) = decode_warnings(tail) else {
        return CacheRead::Damaged;
    };
    let data = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    CacheRead::Hit(
        LogMelSpec {
            frames: frames as usize,
            n_mels: mels,
            data,
        },
        warnings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> LogMelSpec {
        LogMelSpec {
            frames: 3,
            n_mels: 2,
            data: vec![0.5, -1.0, 2.0, -13.8, 0.0, 7.25],
        }
    }

    fn warnings() -> Vec<AudioWarning> {
        vec![
            AudioWarning::Truncated {
                path: PathBuf::new(),
                declared_frames: 160_000,
                decoded_frames: 1_600,
                sample_rate: 16_000,
            },
            AudioWarning::DecodeStopped {
                path: PathBuf::new(),
                decoded_frames: 9,
                reason: "read error: ünïcode".into(),
            },
            AudioWarning::CorruptPackets {
                path: PathBuf::new(),
                skipped: 2,
                last_error: "mp3: invalid main_data_begin".into(),
            },
        ]
    }

    fn read_bytes(bytes: &[u8]) -> CacheRead {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("e.mel");
        fs::write(&p, bytes).unwrap();
        read_cache(&p, 2)
    }

    #[test]
    fn entry_round_trip_with_warnings() {
        let mut ws = warnings();
        ws.push(AudioWarning::CacheNotWritable {
            path: "x".into(),
            reason: "y".into(),
        });
        let bytes = encode_entry(&spec(), &ws);
        // Header, 6 f32, warning count, then the records: tag + fields, texts of 21 bytes
        // ("ü" and "ï" are 2 bytes each) and 28 bytes.
        assert_eq!(
            bytes.len(),
            56 + 6 * 4 + 4 + (1 + 8 + 8 + 4) + (1 + 8 + 4 + 21) + (1 + 8 + 4 + 28)
        );
        assert_eq!(&bytes[24..56], &Sha256::digest(&bytes[56..])[..]);
        match read_bytes(&bytes) {
            // Cache warnings are not stored; the others come back in order.
            CacheRead::Hit(s, w) => assert_eq!((s, w), (spec(), warnings())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_single_byte_flip_is_detected() {
        let bytes = encode_entry(&spec(), &warnings());
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            let r = read_bytes(&b);
            assert!(matches!(r, CacheRead::Damaged), "flip at byte {i}: {r:?}");
        }
        for cut in [0, 5, 12, 55, 56, 60, bytes.len() - 1] {
            assert!(
                matches!(read_bytes(&bytes[..cut]), CacheRead::Damaged),
                "cut {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(read_bytes(&longer), CacheRead::Damaged));
    }
}
