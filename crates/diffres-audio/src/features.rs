//! Feature extraction for files, with an on-disk cache and parallel batch extraction.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::{encode_entry, read_cache, CacheRead};
use crate::decode::{load_audio_with, regular_file_metadata, DecodeOptions};
use crate::error::{AudioError, Result};
use crate::kaldi::{KaldiFbank, KaldiFbankConfig};
use crate::mel::{LogMel, LogMelConfig, LogMelSpec};
use crate::spectrogram::{FeatureKind, Normalization};
use crate::warning::AudioWarning;

/// Magic bytes at the start of a cache file.
pub const CACHE_MAGIC: [u8; 8] = *b"DRESMEL\0";
/// Version of the cache file format (and of the decoding/resampling pipeline it caches).
/// Version 2 added the SHA-256 checksum and the stored decode warnings; entries of other
/// versions are ignored and recomputed.
pub const CACHE_VERSION: u32 = 2;
/// Bytes before the payload: magic, version, frames, n_mels, SHA-256.
pub const CACHE_HEADER_LEN: usize = 8 + 4 + 8 + 4 + 32;
/// Configuration of feature extraction: the spectrogram, its normalisation and the output
/// length. (Named apart from `diffres::FrontEndConfig`, the temporal front end that consumes
/// these features.)
///
/// The default is the default [`LogMelConfig`] with variable length (`frames: None`), no
/// normalisation. `kind` and `normalize` default when absent from JSON, so configurations
/// written before they existed still read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Log-mel parameters; `log_mel.sample_rate` is also the rate files are resampled to. For
    /// [`FeatureKind::Kaldi`] its sample rate, bins, window and hop are the Kaldi filterbank's
    /// ([`KaldiFbankConfig::from_log_mel`]).
    pub log_mel: LogMelConfig,
    /// `Some(n)`: pad (with [`FeatureConfig::pad_value`]) or crop every clip to `n` frames.
    /// `None`: variable length, the true number of frames.
    pub frames: Option<usize>,
    /// librosa-style log-mel or Kaldi filterbank.
    #[serde(default)]
    pub kind: FeatureKind,
    /// `(x - mean) / (2 std)` on every value, padding included (PSLA's normalisation).
    #[serde(default)]
    pub normalize: Option<Normalization>,
}

impl FeatureConfig {
    /// The value padding frames get: silence for log-mel (`ln(log_floor)`), 0 for Kaldi
    /// filterbanks (PSLA pads its fbank with zeros), normalised like every other value.
    pub fn pad_value(&self) -> f32 {
        let raw = match self.kind {
            FeatureKind::LogMel => self.log_mel.silence_value(),
            FeatureKind::Kaldi | FeatureKind::Waveform => 0.0,
        };
        self.normalize.map_or(raw, |n| n.apply(raw))
    }

    /// Frames computed for `n` samples (before padding or cropping to `frames`).
    pub fn num_frames(&self, n: usize) -> usize {
        match self.kind {
            FeatureKind::LogMel => self.log_mel.num_frames(n),
            FeatureKind::Kaldi => KaldiFbankConfig::from_log_mel(&self.log_mel).num_frames(n),
            FeatureKind::Waveform => n,
        }
    }

    /// Values per row: the mel bins of a spectrogram, 1 for the waveform.
    pub fn width(&self) -> usize {
        match self.kind {
            FeatureKind::LogMel | FeatureKind::Kaldi => self.log_mel.n_mels,
            FeatureKind::Waveform => 1,
        }
    }

    /// Seconds of audio per row: the hop of a spectrogram, one sample of the waveform.
    pub fn row_seconds(&self) -> f64 {
        match self.kind {
            FeatureKind::LogMel | FeatureKind::Kaldi => {
                self.log_mel.hop_length as f64 / self.log_mel.sample_rate as f64
            }
            FeatureKind::Waveform => 1.0 / self.log_mel.sample_rate as f64,
        }
    }

    /// Checks the spectrogram settings and the normalisation.
    ///
    /// # Errors
    /// [`AudioError::InvalidConfig`] naming the bad setting.
    pub fn validate(&self) -> Result<()> {
        self.log_mel.validate()?;
        if self.kind == FeatureKind::Kaldi {
            KaldiFbankConfig::from_log_mel(&self.log_mel).validate()?;
        }
        if let Some(n) = &self.normalize {
            n.validate()?;
            if self.kind == FeatureKind::Waveform {
                return Err(AudioError::InvalidConfig(
                    "the normalisation is for spectrograms, not the waveform".into(),
                ));
            }
        }
        if self.frames == Some(0) {
            return Err(AudioError::InvalidConfig("frames must be positive".into()));
        }
        Ok(())
    }
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
/// The cache stores the full (un-padded, un-normalised) spectrogram of each file, and the
/// warnings its decoding gave, under a key made of the file's canonical path, size and
/// modification time, [`CACHE_VERSION`] and the SHA-256 of the `log_mel` config's JSON (with
/// the feature kind for Kaldi filterbanks, so that the two kinds never share an entry).
/// `frames` and `normalize` are applied after loading, so changing only them reuses the cache.
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
    kaldi: Option<KaldiFbank>,
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

impl FeatureExtractor {
    /// Validate the config and set up the cache directory (created if missing).
    ///
    /// Errors only for an invalid config. A cache directory that cannot be created disables
    /// the cache instead of failing: see [`cache_warning`](Self::cache_warning).
    pub fn new(cfg: FeatureConfig, cache_dir: Option<PathBuf>) -> Result<Self> {
        cfg.validate()?;
        let mel = LogMel::new(cfg.log_mel.clone())?;
        let kaldi = match cfg.kind {
            FeatureKind::LogMel | FeatureKind::Waveform => None,
            FeatureKind::Kaldi => Some(KaldiFbank::new(KaldiFbankConfig::from_log_mel(
                &cfg.log_mel,
            ))?),
        };
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
        let mut json = serde_json::to_string(&cfg.log_mel)
            .map_err(|e| AudioError::InvalidConfig(format!("cannot serialise config: {e}")))?;
        // Log-mel entries keep the keys they had before Kaldi features existed.
        if cfg.kind != FeatureKind::LogMel {
            json.push_str(&format!("|features={}", cfg.kind));
        }
        let config_hash = hex(&Sha256::digest(json.as_bytes()));
        Ok(Self {
            cfg,
            mel,
            kaldi,
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

    /// The log-mel extractor (its settings also give the Kaldi filterbank's).
    pub fn log_mel(&self) -> &LogMel {
        &self.mel
    }

    /// The spectrogram of the configured kind, before normalisation and length fitting.
    fn spectrogram(&self, samples: &[f32]) -> Result<LogMelSpec> {
        match (&self.kaldi, self.cfg.kind) {
            (Some(kaldi), _) => kaldi.log_fbank(samples),
            (None, FeatureKind::Waveform) => {
                // As the spectrograms: no empty or non-finite signal reaches a model.
                if samples.is_empty() {
                    return Err(AudioError::EmptySignal);
                }
                if let Some(index) = samples.iter().position(|s| !s.is_finite()) {
                    return Err(AudioError::NonFinite { index });
                }
                Ok(LogMelSpec {
                    frames: samples.len(),
                    n_mels: 1,
                    data: samples.to_vec(),
                })
            }
            (None, _) => self.mel.log_mel(samples),
        }
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
    /// file size and modification time, the cache version, the log-mel config and the kind.
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

    fn finish(&self, mut spec: LogMelSpec, warnings: Vec<AudioWarning>) -> Features {
        if let Some(n) = &self.cfg.normalize {
            n.apply_all(&mut spec.data);
        }
        match self.cfg.frames {
            None => Features {
                valid_frames: spec.frames,
                spec,
                warnings,
            },
            Some(n) => {
                let (spec, valid_frames) = spec.into_fitted(n, self.cfg.pad_value());
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
            match read_cache(entry, self.cfg.width()) {
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
            .spectrogram(&audio.samples)
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

    /// The samples of the file at `path` as [`extract`](Self::extract) computes its features
    /// from them: decoded with this extractor's options, downmixed, resampled to the config's
    /// rate (never cached). Waveform augmentation (mixup) starts from these.
    pub fn load_samples(&self, path: &Path) -> Result<Vec<f32>> {
        Ok(load_audio_with(path, self.cfg.log_mel.sample_rate, &self.decode)?.samples)
    }

    /// Features of samples already at the config's sample rate (no cache, no warnings).
    pub fn extract_samples(&self, samples: &[f32]) -> Result<Features> {
        Ok(self.finish(self.spectrogram(samples)?, Vec::new()))
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
