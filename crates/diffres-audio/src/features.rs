//! Feature extraction for files, with an on-disk cache and parallel batch extraction.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decode::load_audio;
use crate::error::{AudioError, Result};
use crate::mel::{LogMel, LogMelConfig, LogMelSpec};

/// Magic bytes at the start of a cache file.
pub const CACHE_MAGIC: [u8; 8] = *b"DRESMEL\0";
/// Version of the cache file format (and of the decoding/resampling pipeline it caches).
pub const CACHE_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 4;

/// Configuration of the whole front end: log-mel parameters and the output length.
///
/// The default is the default [`LogMelConfig`] with variable length (`frames: None`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FrontEndConfig {
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
}

/// Turns audio files into log-mel features, with an optional on-disk cache.
///
/// The cache stores the full (un-padded) log-mel of each file under a key made of the file's
/// canonical path, size and modification time, [`CACHE_VERSION`] and the SHA-256 of the
/// `log_mel` config's JSON. `frames` is applied after loading, so changing only `frames` reuses
/// the cache. File format (little endian): 8-byte magic [`CACHE_MAGIC`], `u32` version,
/// `u64` frames, `u32` n_mels, then `frames * n_mels` `f32`. Files are written to a temporary
/// name and renamed, so a crash never leaves a half-written entry; an unreadable entry is
/// recomputed and overwritten.
#[derive(Debug)]
pub struct FeatureExtractor {
    cfg: FrontEndConfig,
    mel: LogMel,
    cache_dir: Option<PathBuf>,
    config_hash: String,
    hits: AtomicUsize,
    misses: AtomicUsize,
    tmp_counter: AtomicUsize,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl FeatureExtractor {
    /// Validate the config and set up the cache directory (created if missing).
    pub fn new(cfg: FrontEndConfig, cache_dir: Option<PathBuf>) -> Result<Self> {
        let mel = LogMel::new(cfg.log_mel.clone())?;
        if cfg.frames == Some(0) {
            return Err(AudioError::InvalidConfig("frames must be positive".into()));
        }
        if let Some(dir) = &cache_dir {
            fs::create_dir_all(dir).map_err(|e| AudioError::Cache {
                path: dir.clone(),
                reason: format!("cannot create cache directory: {e}"),
            })?;
        }
        let json = serde_json::to_string(&cfg.log_mel)
            .map_err(|e| AudioError::InvalidConfig(format!("cannot serialise config: {e}")))?;
        let config_hash = hex(&Sha256::digest(json.as_bytes()));
        Ok(Self {
            cfg,
            mel,
            cache_dir,
            config_hash,
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
            tmp_counter: AtomicUsize::new(0),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FrontEndConfig {
        &self.cfg
    }

    /// The log-mel extractor.
    pub fn log_mel(&self) -> &LogMel {
        &self.mel
    }

    /// Number of `extract` calls answered from the cache so far.
    pub fn cache_hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// Number of `extract` calls that decoded the file (cache disabled, missing or stale entry).
    pub fn cache_misses(&self) -> usize {
        self.misses.load(Ordering::Relaxed)
    }

    /// The cache key of `path` under this config (hex SHA-256), from the canonical path, the
    /// file size and modification time, the cache version and the log-mel config.
    pub fn cache_key(&self, path: &Path) -> Result<String> {
        let io = |source| AudioError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(AudioError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        let canon = fs::canonicalize(path).map_err(io)?;
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

    fn finish(&self, spec: LogMelSpec) -> Features {
        match self.cfg.frames {
            None => Features {
                valid_frames: spec.frames,
                spec,
            },
            Some(n) => {
                let (spec, valid_frames) = spec.fit_frames(n, self.cfg.log_mel.silence_value());
                Features { spec, valid_frames }
            }
        }
    }

    /// Features of the file at `path` (decoded, downmixed, resampled to the config's rate),
    /// read from the cache when possible.
    pub fn extract(&self, path: &Path) -> Result<Features> {
        let entry = self.cache_path(path)?;
        if let Some(entry) = &entry {
            if let Some(spec) = read_cache(entry, self.cfg.log_mel.n_mels) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(self.finish(spec));
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let samples = load_audio(path, self.cfg.log_mel.sample_rate)?;
        let spec = self.mel.log_mel(&samples).map_err(|e| e.with_path(path))?;
        if let Some(entry) = &entry {
            self.write_cache(entry, &spec)?;
        }
        Ok(self.finish(spec))
    }

    /// Features of samples already at the config's sample rate (no cache).
    pub fn extract_samples(&self, samples: &[f32]) -> Result<Features> {
        Ok(self.finish(self.mel.log_mel(samples)?))
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

    fn write_cache(&self, entry: &Path, spec: &LogMelSpec) -> Result<()> {
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
        let err = |e: std::io::Error| AudioError::Cache {
            path: entry.to_path_buf(),
            reason: e.to_string(),
        };
        let mut bytes = Vec::with_capacity(HEADER_LEN + spec.data.len() * 4);
        bytes.extend_from_slice(&CACHE_MAGIC);
        bytes.extend_from_slice(&CACHE_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(spec.frames as u64).to_le_bytes());
        bytes.extend_from_slice(&(spec.n_mels as u32).to_le_bytes());
        for v in &spec.data {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, entry)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            err(e)
        })
    }
}

/// Read a cache entry; `None` if missing, malformed or of another version / mel count.
fn read_cache(entry: &Path, n_mels: usize) -> Option<LogMelSpec> {
    let bytes = fs::read(entry).ok()?;
    if bytes.len() < HEADER_LEN || bytes[..8] != CACHE_MAGIC {
        return None;
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
    let frames = u64::from_le_bytes(bytes[12..20].try_into().ok()?) as usize;
    let mels = u32::from_le_bytes(bytes[20..24].try_into().ok()?) as usize;
    if version != CACHE_VERSION || mels != n_mels || frames == 0 {
        return None;
    }
    let body = &bytes[HEADER_LEN..];
    if body.len() != frames.checked_mul(mels)?.checked_mul(4)? {
        return None;
    }
    let data = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some(LogMelSpec {
        frames,
        n_mels: mels,
        data,
    })
}
