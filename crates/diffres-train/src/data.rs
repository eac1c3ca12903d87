//! From a dataset folder to features (log-mel or Kaldi filterbanks, as the run says), in memory or streamed from the feature cache.
//!
//! A small dataset's features are held in memory. A large one's (`stream`, or more than
//! [`MEMORY_BUDGET_BYTES`] of features) stay on disk in the feature cache of `diffres-audio`:
//! extraction writes every clip's entry and keeps only its length, and each batch reads its
//! clips' entries back (each checked against its SHA-256; a damaged one is recomputed), so
//! resident memory does not grow with the dataset. An interrupted extraction resumes from the
//! entries already written. Both give the same numbers: a batch holds the same values either
//! way.

use std::path::{Path, PathBuf};

use diffres_audio::FeatureExtractor;
use diffres_data::{load_dataset, Dataset, LoadOptions, Split};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::reporter::{warn_all, Reporter};

/// Longest input, in seconds of audio, taken when `--frames` is not given: 3,000 frames at a
/// 10 ms hop, 10,000 at 3 ms, 30,000 at 1 ms, so that frames follow the clip length at every
/// hop (the paper's Table 2). Longer clips are cropped, with a warning.
pub const MAX_AUTO_SECONDS: f64 = 30.0;

/// The frame count [`MAX_AUTO_SECONDS`] gives at a hop.
pub fn max_auto_frames(hop_ms: f32) -> usize {
    (MAX_AUTO_SECONDS * 1000.0 / hop_ms as f64).round() as usize
}

/// One clip's log-mel features, padded or cropped to the run's frame count.
#[derive(Clone, Debug)]
pub struct ClipFeatures {
    /// `[frames][mels]`, row-major.
    pub data: Vec<f32>,
    /// Frames that come from the audio.
    pub valid: usize,
}

/// Above this many bytes of features a dataset is streamed from the feature cache instead of
/// held in memory (4 GiB: about 80,000 one-second clips at 128 mels and a 10 ms hop).
pub const MEMORY_BUDGET_BYTES: usize = 4 << 30;

/// Clips extracted per round: bounds the memory of the extraction itself.
const EXTRACTION_CHUNK: usize = 256;

/// Where a prepared dataset's features are.
#[derive(Debug)]
enum FeatureStore {
    /// Every clip's fitted features (`None`: unreadable).
    Memory(Vec<Option<ClipFeatures>>),
    /// In the feature cache, read clip by clip; each clip's frame count (`None`: unreadable).
    Streamed {
        extractor: Box<FeatureExtractor>,
        lengths: Vec<Option<usize>>,
    },
}

/// A dataset with its features, in memory or streamed from the feature cache.
#[derive(Debug)]
pub struct PreparedData {
    /// The dataset (clips, classes, splits).
    pub dataset: Dataset,
    /// Frames per clip.
    pub frames: usize,
    /// Mel bins.
    pub mels: usize,
    /// Files skipped, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    store: FeatureStore,
    silence: f32,
}

impl PreparedData {
    /// A dataset whose fitted features are all in memory (`None`: an unreadable clip).
    pub fn in_memory(
        dataset: Dataset,
        frames: usize,
        mels: usize,
        features: Vec<Option<ClipFeatures>>,
    ) -> Self {
        Self {
            dataset,
            frames,
            mels,
            skipped: Vec::new(),
            store: FeatureStore::Memory(features),
            silence: 0.0,
        }
    }

    /// Whether clip `i` could be read.
    pub fn is_readable(&self, i: usize) -> bool {
        match &self.store {
            FeatureStore::Memory(f) => f[i].is_some(),
            FeatureStore::Streamed { lengths, .. } => lengths[i].is_some(),
        }
    }

    /// Whether features are read from disk batch by batch.
    pub fn is_streamed(&self) -> bool {
        matches!(self.store, FeatureStore::Streamed { .. })
    }

    /// Indices of the readable clips of a split.
    pub fn indices(&self, split: Split) -> Vec<usize> {
        self.dataset
            .clips
            .iter()
            .enumerate()
            .filter(|(i, c)| c.split == split && self.is_readable(*i))
            .map(|(i, _)| i)
            .collect()
    }

    /// Appends clip `i`'s `[frames][mels]` features to `out` and returns its valid frames.
    ///
    /// # Errors
    /// A streamed clip whose file can no longer be read.
    pub fn append_features(&self, i: usize, out: &mut Vec<f32>) -> Result<usize> {
        match &self.store {
            FeatureStore::Memory(features) => {
                let f = features[i]
                    .as_ref()
                    .expect("only readable clips are batched");
                out.extend_from_slice(&f.data);
                Ok(f.valid)
            }
            FeatureStore::Streamed { extractor, .. } => {
                let spec = extractor.extract(&self.dataset.clips[i].path)?.spec;
                let (spec, valid) = spec.fit_frames(self.frames, self.silence);
                out.extend_from_slice(&spec.data);
                Ok(valid)
            }
        }
    }
}

/// The default feature cache: `$XDG_CACHE_HOME/diffres` or `~/.cache/diffres`, else
/// `.diffres-cache` in the working directory.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("diffres");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".cache").join("diffres");
    }
    PathBuf::from(".diffres-cache")
}

/// Loading options of a run's dataset.
pub fn load_options(cfg: &TrainConfig) -> Result<LoadOptions> {
    Ok(LoadOptions {
        format: cfg.format,
        val_fraction: cfg.val_fraction,
        test_fraction: cfg.test_fraction,
        seed: cfg.seed,
        fold: cfg.fold,
    })
}

/// Loads the dataset of `cfg` and extracts every clip's features (both cores, cached).
///
/// Unreadable files are skipped with a warning and counted, or fail the run with `strict`.
///
/// # Errors
/// Dataset errors, no readable training clip, or (strict) the first unreadable file.
pub fn prepare(
    cfg: &TrainConfig,
    cache: Option<&Path>,
    reporter: &dyn Reporter,
) -> Result<PreparedData> {
    let dataset = load_dataset(&cfg.data, &load_options(cfg)?)?;
    for note in &dataset.notes {
        reporter.note(note);
    }
    for warning in &dataset.warnings {
        reporter.warn(warning);
    }
    prepare_dataset(dataset, cfg, cache, cfg.frames, reporter)
}

/// Extracts the features of an already loaded dataset; `frames` fixes the length (else the
/// longest training clip, at most [`max_auto_frames`]). Unreadable files, truncated files, an
/// unwritable cache and clips cropped to the frame count are reported as warnings.
///
/// # Errors
/// As [`prepare`].
pub fn prepare_dataset(
    dataset: Dataset,
    cfg: &TrainConfig,
    cache: Option<&Path>,
    frames: Option<usize>,
    reporter: &dyn Reporter,
) -> Result<PreparedData> {
    let extractor = FeatureExtractor::new(cfg.feature_config(), cache.map(Path::to_path_buf))?;
    if let Some(warning) = extractor.cache_warning() {
        reporter.warn(&warning.to_string());
    }
    if cfg.stream && cache.is_none() {
        return Err(TrainError::Config(
            "--stream reads features from the feature cache: give a --cache-dir other than none"
                .into(),
        ));
    }
    let paths: Vec<PathBuf> = dataset.clips.iter().map(|c| c.path.clone()).collect();
    let bar = reporter.bar(paths.len() as u64, "features");
    let mut skipped = Vec::new();
    // Full (unfitted) spectrograms while they fit the budget; lengths only once streaming.
    let mut raw: Option<Vec<Option<diffres_audio::LogMelSpec>>> =
        (!cfg.stream).then(|| Vec::with_capacity(paths.len()));
    let mut lengths = Vec::with_capacity(paths.len());
    let mut held_bytes = 0usize;
    let mut warnings = Vec::new();
    for (round, chunk) in paths.chunks(EXTRACTION_CHUNK).enumerate() {
        let done = round * EXTRACTION_CHUNK;
        let tick = |n: usize| bar.set_position((done + n) as u64);
        for (path, result) in chunk.iter().zip(extractor.extract_many(chunk, Some(&tick))) {
            let f = match result {
                Ok(f) => f,
                Err(e) if cfg.strict => return Err(e.into()),
                Err(e) => {
                    skipped.push((path.clone(), crate::error::error_chain(&e)));
                    lengths.push(None);
                    if let Some(raw) = &mut raw {
                        raw.push(None);
                    }
                    continue;
                }
            };
            warnings.extend(f.warnings.iter().map(ToString::to_string));
            lengths.push(Some(f.spec.frames));
            let over_budget = match &mut raw {
                Some(held) => {
                    held_bytes += f.spec.data.len() * std::mem::size_of::<f32>();
                    held.push(Some(f.spec));
                    held_bytes > MEMORY_BUDGET_BYTES
                }
                None => false,
            };
            if over_budget {
                if cache.is_none() {
                    return Err(TrainError::Config(format!(
                        "the features of {} need more than {} GiB: give a --cache-dir so that \
                         they are streamed from disk",
                        cfg.data.display(),
                        MEMORY_BUDGET_BYTES >> 30
                    )));
                }
                raw = None;
            }
        }
    }
    bar.finish_and_clear();
    warn_all(reporter, &warnings, MAX_WARNINGS_SHOWN);
    if !skipped.is_empty() {
        reporter.warn(&format!(
            "skipped {} unreadable file(s) (--strict stops at the first), e.g. {}",
            skipped.len(),
            skipped[0].1
        ));
    }
    let given = frames.is_some();
    let frames = match frames {
        Some(f) => f,
        None => dataset
            .clips
            .iter()
            .zip(&lengths)
            .filter(|(c, _)| c.split == Split::Train)
            .filter_map(|(_, l)| *l)
            .max()
            .unwrap_or(1)
            .clamp(1, max_auto_frames(cfg.hop_ms)),
    };
    if let Some(warning) = crop_warning(&lengths, frames, given, cfg.hop_ms) {
        reporter.warn(&warning);
    }
    let silence = cfg.pad_value();
    let store = match raw {
        Some(raw) => FeatureStore::Memory(
            raw.into_iter()
                .map(|spec| {
                    spec.map(|spec| {
                        let (spec, valid) = spec.fit_frames(frames, silence);
                        ClipFeatures {
                            data: spec.data,
                            valid,
                        }
                    })
                })
                .collect(),
        ),
        None => {
            reporter.note(&format!(
                "streaming the features of {} clips from the feature cache {}",
                lengths.iter().flatten().count(),
                cache.map_or(String::new(), |c| c.display().to_string())
            ));
            FeatureStore::Streamed {
                extractor: Box::new(extractor),
                lengths,
            }
        }
    };
    let prepared = PreparedData {
        dataset,
        frames,
        mels: cfg.mels,
        skipped,
        store,
        silence,
    };
    if prepared.indices(Split::Train).is_empty() {
        return Err(TrainError::Config(format!(
            "dataset {} has no readable training clip",
            cfg.data.display()
        )));
    }
    Ok(prepared)
}

/// The warning for clips longer than the run's `frames` (cropped to their first `frames`),
/// or `None` when no clip is cropped. `given`: the frame count came from `--frames`.
pub fn crop_warning(
    lengths: &[Option<usize>],
    frames: usize,
    given: bool,
    hop_ms: f32,
) -> Option<String> {
    let longer: Vec<usize> = lengths
        .iter()
        .flatten()
        .copied()
        .filter(|&l| l > frames)
        .collect();
    let longest = *longer.iter().max()?;
    let why = if given {
        "--frames".to_string()
    } else {
        format!(
            "the longest training clip, at most {MAX_AUTO_SECONDS} s; --frames sets another length"
        )
    };
    Some(format!(
        "{} of {} clips are longer than {frames} frames ({:.2} s at a {hop_ms} ms hop, from {why}) \
         and are cropped to their first {frames} frames (the longest has {longest})",
        longer.len(),
        lengths.iter().flatten().count(),
        frames as f64 * hop_ms as f64 / 1000.0,
    ))
}

/// Most per-file warnings printed one by one.
pub const MAX_WARNINGS_SHOWN: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_automatic_length_follows_the_hop_and_cropping_is_reported() {
        assert_eq!(max_auto_frames(10.0), 3000);
        assert_eq!(max_auto_frames(3.0), 10_000);
        assert_eq!(max_auto_frames(1.0), 30_000);
        let lengths = [Some(100), None, Some(250), Some(90)];
        assert_eq!(crop_warning(&lengths, 250, true, 10.0), None);
        let w = crop_warning(&lengths, 95, true, 10.0).unwrap();
        assert!(
            w.starts_with("2 of 3 clips are longer than 95 frames"),
            "{w}"
        );
        assert!(
            w.contains("--frames") && w.contains("the longest has 250"),
            "{w}"
        );
        let w = crop_warning(&lengths, 95, false, 1.0).unwrap();
        assert!(w.contains("at most 30 s"), "{w}");
    }
}
