//! From a dataset folder to in-memory features (log-mel or Kaldi filterbanks, as the run
//! says), with the audio crate's cache.

use std::path::{Path, PathBuf};

use diffres_audio::FeatureExtractor;
use diffres_data::{load_dataset, Dataset, LoadOptions, Split};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::reporter::{warn_all, Reporter};

/// Longest input accepted when `--frames` is not given.
pub const MAX_AUTO_FRAMES: usize = 3000;

/// One clip's log-mel features, padded or cropped to the run's frame count.
#[derive(Clone, Debug)]
pub struct ClipFeatures {
    /// `[frames][mels]`, row-major.
    pub data: Vec<f32>,
    /// Frames that come from the audio.
    pub valid: usize,
}

/// A dataset with its features in memory.
#[derive(Debug)]
pub struct PreparedData {
    /// The dataset (clips, classes, splits).
    pub dataset: Dataset,
    /// Frames per clip.
    pub frames: usize,
    /// Mel bins.
    pub mels: usize,
    /// Features of each clip of `dataset.clips`, `None` where the file could not be read.
    pub features: Vec<Option<ClipFeatures>>,
    /// Files skipped, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

impl PreparedData {
    /// Indices of the readable clips of a split.
    pub fn indices(&self, split: Split) -> Vec<usize> {
        self.dataset
            .clips
            .iter()
            .enumerate()
            .filter(|(i, c)| c.split == split && self.features[*i].is_some())
            .map(|(i, _)| i)
            .collect()
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
/// longest training clip, at most [`MAX_AUTO_FRAMES`]). Unreadable files, truncated files and
/// an unwritable cache are reported as warnings.
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
    let paths: Vec<PathBuf> = dataset.clips.iter().map(|c| c.path.clone()).collect();
    let bar = reporter.bar(paths.len() as u64, "features");
    let tick = |n: usize| bar.set_position(n as u64);
    let results = extractor.extract_many(&paths, Some(&tick));
    bar.finish_and_clear();

    let mut skipped = Vec::new();
    let mut raw = Vec::with_capacity(results.len());
    let mut warnings = Vec::new();
    for (path, result) in paths.iter().zip(results) {
        match result {
            Ok(f) => {
                warnings.extend(f.warnings.iter().map(ToString::to_string));
                raw.push(Some(f));
            }
            Err(e) if cfg.strict => return Err(e.into()),
            Err(e) => {
                skipped.push((path.clone(), crate::error::error_chain(&e)));
                raw.push(None);
            }
        }
    }
    warn_all(reporter, &warnings, MAX_WARNINGS_SHOWN);
    if !skipped.is_empty() {
        reporter.warn(&format!(
            "skipped {} unreadable file(s) (--strict stops at the first), e.g. {}",
            skipped.len(),
            skipped[0].1
        ));
    }
    let frames = match frames {
        Some(f) => f,
        None => dataset
            .clips
            .iter()
            .zip(&raw)
            .filter(|(c, f)| c.split == Split::Train && f.is_some())
            .map(|(_, f)| f.as_ref().map_or(0, |f| f.spec.frames))
            .max()
            .unwrap_or(1)
            .clamp(1, MAX_AUTO_FRAMES),
    };
    let silence = cfg.pad_value();
    let features: Vec<Option<ClipFeatures>> = raw
        .into_iter()
        .map(|f| {
            f.map(|f| {
                let (spec, valid) = f.spec.fit_frames(frames, silence);
                ClipFeatures {
                    data: spec.data,
                    valid,
                }
            })
        })
        .collect();
    let prepared = PreparedData {
        dataset,
        frames,
        mels: cfg.mels,
        features,
        skipped,
    };
    if prepared.indices(Split::Train).is_empty() {
        return Err(TrainError::Config(format!(
            "dataset {} has no readable training clip",
            cfg.data.display()
        )));
    }
    Ok(prepared)
}

/// Most per-file warnings printed one by one.
pub const MAX_WARNINGS_SHOWN: usize = 10;
