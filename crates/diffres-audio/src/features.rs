//! Feature extraction for files, with an on-disk cache and parallel batch extraction.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decode::{load_audio_with, regular_file_metadata, DecodeOptions};
use crate::error::{AudioError, Result};
use crate::mel::{LogMel, LogMelConfig, LogMelSpec};
use crate::warning::AudioWarning;

/// Magic bytes at the start of a cache file.
pub const CACHE_MAGIC: [u8; 8] = *b"DRESMEL\0";
/// Version of the cache file format (and of the decoding/resampling pipeline it caches).
/// Version 2 added the SHA-256 checksum and the stored decode warnings; entries of other
/// versions are ignored and recomputed.
pub const CACHE_VERSION: u32 = 2;
/// Bytes before the payload: magic, version, frames, n_mels, SHA-256.
pub const CACHE_HEADER_LEN: usize = 8 + 4 + 8 + 4 + 32;
/// Offset of the SHA-256 field in the header.
const CHECKSUM_AT: usize = 24;

// Tags of the warning records in a cache entry (see `FeatureExtractor`).
const TAG_TRUNCATED: u8 = 1;
const TAG_DECODE_STOPPED: u8 = 2;
const TAG_CORRUPT_PACKETS: u8 = 3;

/// Configuration of feature extraction: log-mel parameters and the output length. (Named
/// apart from `diffres::FrontEndConfig`, the temporal front end that consumes these features.)
///
/// The default is the default [`LogMelConfig`] with variable length (`frames: None`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Log-mel parameters; `log_mel.sample_rate` is also the rate files are resampled to.
    pub log_mel: LogMelConfig,
    /// `Some(n)`: pad (with silence, `ln(log_floor)`) or crop every clip to `n` frames.
    /// `None`: variable length, the true number of frames.
    pub frames: Option<usize>,
}

/// Features of one clip.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// Log-mel spectrogram `[frames][n_mels]`, padded/cropped when the config fixes `frames`.
    pub spec: LogMelSpec,
    /// Number of frames that come from the audio (the rest, if any, is padding).
    pub valid_frames: usize,
    /// Problems that did not stop extraction: decode warnings such as
    /// [`AudioWarning::Truncated`] (also replayed on a cache hit, naming the path passed this
    /// time) and [`AudioWarning::CacheNotWritable`]. Empty for a clean file.
    pub warnings: Vec<AudioWarning>,
}

/// Turns audio files into log-mel features, with an optional on-disk cache.
///
/// # Cache
///
/// The cache stores the full (un-padded) log-mel of each file, and the warnings its decoding
/// gave, under a key made of the file's canonical path, size and modification time,
/// [`CACHE_VERSION`] and the SHA-256 of the `log_mel` config's JSON. `frames` is applied after
/// loading, so changing only `frames` reuses the cache.
///
/// Entry `<cache_dir>/<key>.mel`, little endian (version 2):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic [`CACHE_MAGIC`] |
/// | 8 | 4 | `u32` version ([`CACHE_VERSION`]) |
/// | 12 | 8 | `u64` frames |
/// | 20 | 4 | `u32` n_mels |
/// | 24 | 32 | SHA-256 of the payload (every byte from offset 56 to the end) |
/// | 56 | `4 * frames * n_mels` | payload: `f32` log-mel, row-major `[frames][n_mels]` |
/// | ... | ... | payload: `u32` warning count, then one record per decode warning |
///
/// A warning record is a `u8` tag and its fields: `1` Truncated: `u64` declared frames,
/// `u64` decoded frames, `u32` sample rate; `2` DecodeStopped: `u64` decoded frames, text;
/// `3` CorruptPackets: `u64` skipped, text. Text is a `u32` byte length and UTF-8. The path is
/// not stored: a replayed warning names the path passed to [`FeatureExtractor::extract`].
/// Cache warnings ([`AudioWarning::CacheNotWritable`]) are not stored.
///
/// An entry is used only if it parses exactly (right magic, version and n_mels, a body of
/// `frames * n_mels` values, well-formed warning records that end at the end of the file) and
/// its checksum matches. A damaged one (flipped bytes, truncated, wrong length) is recomputed
/// and overwritten, and counted in [`cache_repairs`](Self::cache_repairs) as well as in the
/// misses. The key covers [`CACHE_VERSION`], so entries of older versions (version 1 had no
/// checksum) have other names: they are never read, the clips are simply recomputed under
/// the new key, and the old `.mel` files can be deleted.
///
/// Entries are written to `.<entry>.<pid>.<n>.tmp` in the cache directory, synced and
/// renamed, so a crash never leaves a half-written entry under the real name. A failed write
/// removes its temporary file. A process killed between create and rename can leave a stale
/// `.tmp` file behind: it is harmless (never read, never matched as an entry, and the next
/// write of the same entry uses a new name) and can be deleted at any time.
///
/// # Unusable cache
///
/// A cache never costs a clip. If the cache directory cannot be created (e.g. its path is an
/// existing regular file), [`new`](Self::new) still succeeds with caching disabled, and
/// [`cache_warning`](Self::cache_warning) says why. If an entry cannot be written (read-only
/// directory, full disk, ...), the features are returned with an
/// [`AudioWarning::CacheNotWritable`] in [`Features::warnings`]. Reading from a read-only cache
/// still works.
#[derive(Debug)]
pub struct FeatureExtractor {
    cfg: FeatureConfig,
    mel: LogMel,
    cache_dir: Option<PathBuf>,
    cache_warning: Option<AudioWarning>,
    decode: DecodeOptions,
    config_hash: String,
    hits: AtomicUsize,
    misses: AtomicUsize,
    repairs: AtomicUsize,
    tmp_counter: AtomicUsize,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What [`read_cache`] found.
#[derive(Debug)]
enum CacheRead {
    /// A valid entry.
    Hit(LogMelSpec, Vec<AudioWarning>),
    /// No entry, or one that cannot be read (not counted as damage: nothing to repair).
    Missing,
    /// An entry that fails validation: recomputed and overwritten.
    Damaged,
}

impl FeatureExtractor {
    /// Validate the config and set up the cache directory (created if missing).
    ///
    /// Errors only for an invalid config. A cache directory that cannot be created disables
    /// the cache instead of failing: see [`cache_warning`](Self::cache_warning).
    pub fn new(cfg: FeatureConfig, cache_dir: Option<PathBuf>) -> Result<Self> {
        let mel = LogMel::new(cfg.log_mel.clone())?;
        if cfg.frames == Some(0) {
            return Err(AudioError::InvalidConfig("frames must be positive".into()));
        }
        let mut cache_warning = None;
        let cache_dir = match cache_dir {
            Some(dir) => match fs::create_dir_all(&dir) {
                Ok(()) => Some(dir),
                Err(e) => {
                    cache_warning = Some(AudioWarning::CacheNotWritable {
                        reason: format!("cannot create cache directory: {e}; caching is disabled"),
                        path: dir,
                    });
                    None
                }
            },
            None => None,
        };
        let json = serde_json::to_string(&cfg.log_mel)
            .map_err(|e| AudioError::InvalidConfig(format!("cannot serialise config: {e}")))?;
        let config_hash = hex(&Sha256::digest(json.as_bytes()));
        Ok(Self {
            cfg,
            mel,
            cache_dir,
            cache_warning,
            decode: DecodeOptions::default(),
            config_hash,
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
            repairs: AtomicUsize::new(0),
            tmp_counter: AtomicUsize::new(0),
        })
    }

    /// Use these decode options (e.g. a different `max_samples`) for files. They do not change
    /// the features of a file that decodes, so they are not part of the cache key.
    pub fn with_decode_options(mut self, opts: DecodeOptions) -> Self {
        self.decode = opts;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &FeatureConfig {
        &self.cfg
    }

    /// The log-mel extractor.
    pub fn log_mel(&self) -> &LogMel {
        &self.mel
    }

    /// The decode options used for files.
    pub fn decode_options(&self) -> &DecodeOptions {
        &self.decode
    }

    /// The cache directory in use; `None` when caching is off (not requested, or disabled
    /// because the directory could not be created: see [`cache_warning`](Self::cache_warning)).
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    /// Why a requested cache directory was disabled ([`AudioWarning::CacheNotWritable`] naming
    /// the directory), or `None` if the cache is in use or was not requested.
    pub fn cache_warning(&self) -> Option<&AudioWarning> {
        self.cache_warning.as_ref()
    }

    /// Number of `extract` calls answered from the cache so far.
    pub fn cache_hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// Number of `extract` calls that decoded the file (cache disabled, missing, stale or
    /// damaged entry).
    pub fn cache_misses(&self) -> usize {
        self.misses.load(Ordering::Relaxed)
    }

    /// Number of damaged cache entries found (bad checksum, truncated, wrong length or layout)
    /// and recomputed so far; each is also counted in [`cache_misses`](Self::cache_misses).
    pub fn cache_repairs(&self) -> usize {
        self.repairs.load(Ordering::Relaxed)
    }

    /// The cache key of `path` under this config (hex SHA-256), from the canonical path, the
    /// file size and modification time, the cache version and the log-mel config.
    pub fn cache_key(&self, path: &Path) -> Result<String> {
        let meta = regular_file_metadata(path)?;
        let canon = fs::canonicalize(path).map_err(|source| AudioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut h = Sha256::new();
        h.update(CACHE_MAGIC);
        h.update(CACHE_VERSION.to_le_bytes());
        h.update(canon.to_string_lossy().as_bytes());
        h.update([0u8]);
        h.update(meta.len().to_le_bytes());
        h.update(mtime.to_le_bytes());
        h.update(self.config_hash.as_bytes());
        Ok(hex(&h.finalize()))
    }

    /// Path of the cache entry of `path`, if the cache is enabled.
    pub fn cache_path(&self, path: &Path) -> Result<Option<PathBuf>> {
        match &self.cache_dir {
            None => Ok(None),
            Some(dir) => Ok(Some(dir.join(format!("{}.mel", self.cache_key(path)?)))),
        }
    }

    fn finish(&self, spec: LogMelSpec, warnings: Vec<AudioWarning>) -> Features {
        match self.cfg.frames {
            None => Features {
                valid_frames: spec.frames,
                spec,
                warnings,
            },
            Some(n) => {
                let (spec, valid_frames) = spec.fit_frames(n, self.cfg.log_mel.silence_value());
                Features {
                    spec,
                    valid_frames,
                    warnings,
                }
            }
        }
    }

    /// Features of the file at `path` (decoded, downmixed, resampled to the config's rate),
    /// read from the cache when possible. A cache that cannot be written never makes this
    /// fail: the features come back with an [`AudioWarning::CacheNotWritable`].
    pub fn extract(&self, path: &Path) -> Result<Features> {
        let entry = self.cache_path(path)?;
        if let Some(entry) = &entry {
            match read_cache(entry, self.cfg.log_mel.n_mels) {
                CacheRead::Hit(spec, warnings) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    let warnings = warnings.into_iter().map(|w| w.with_path(path)).collect();
                    return Ok(self.finish(spec, warnings));
                }
                CacheRead::Damaged => {
                    self.repairs.fetch_add(1, Ordering::Relaxed);
                }
                CacheRead::Missing => {}
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let audio = load_audio_with(path, self.cfg.log_mel.sample_rate, &self.decode)?;
        let spec = self
            .mel
            .log_mel(&audio.samples)
            .map_err(|e| e.with_path(path))?;
        let mut warnings = audio.warnings;
        if let Some(entry) = &entry {
            if let Err(e) = self.write_cache(entry, &spec, &warnings) {
                warnings.push(AudioWarning::CacheNotWritable {
                    path: entry.clone(),
                    reason: format!("{e}; the features were computed but not cached"),
                });
            }
        }
        Ok(self.finish(spec, warnings))
    }

    /// Features of samples already at the config's sample rate (no cache, no warnings).
    pub fn extract_samples(&self, samples: &[f32]) -> Result<Features> {
        Ok(self.finish(self.mel.log_mel(samples)?, Vec::new()))
    }

    /// Extract many files in parallel (rayon; uses the current rayon pool). One result per
    /// path, in order: a bad file gives an error in its slot and does not stop the batch.
    /// `progress`, if given, is called once per finished file with the number of files
    /// finished so far (calls may come from several threads).
    pub fn extract_many(
        &self,
        paths: &[PathBuf],
        progress: Option<&(dyn Fn(usize) + Sync)>,
    ) -> Vec<Result<Features>> {
        let done = AtomicUsize::new(0);
        paths
            .par_iter()
            .map(|p| {
                let r = self.extract(p);
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(cb) = progress {
                    cb(n);
                }
                r
            })
            .collect()
    }

    /// Write an entry (layout in the struct docs) atomically; the error text on failure.
    fn write_cache(
        &self,
        entry: &Path,
        spec: &LogMelSpec,
        warnings: &[AudioWarning],
    ) -> std::result::Result<(), String> {
        let dir = entry.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.{}.{}.tmp",
            entry
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("entry"),
            std::process::id(),
            self.tmp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let bytes = encode_entry(spec, warnings);
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, entry)
        };
        write().map_err(|e| {
            // Never leave a temporary file behind (it may not exist: create can fail too).
            let _ = fs::remove_file(&tmp);
            e.to_string()
        })
    }
}

fn put_text(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The bytes of a cache entry (layout in the [`FeatureExtractor`] docs).
fn encode_entry(spec: &LogMelSpec, warnings: &[AudioWarning]) -> Vec<u8> {
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

/// Read and verify a cache entry (layout in the [`FeatureExtractor`] docs).
fn read_cache(entry: &Path, n_mels: usize) -> CacheRead {
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
