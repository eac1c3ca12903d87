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

use diffres_audio::{FeatureExtractor, Normalization};
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
    /// In the feature cache, read clip by clip (by [`PreparedData`]'s extractor); each clip's
    /// frame count (`None`: unreadable).
    Streamed { lengths: Vec<Option<usize>> },
}

/// A dataset with its features, in memory or streamed from the feature cache.
#[derive(Debug)]
pub struct PreparedData {
    /// The dataset (clips, classes, splits).
    pub dataset: Dataset,
    /// Rows per clip: frames of a spectrogram, samples of a waveform.
    pub frames: usize,
    /// Values per row: mel bins, or 1 for a waveform.
    pub mels: usize,
    /// Files skipped, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// The normalisation the features carry: the run's `--normalize`, or the one computed
    /// from the training clips' features with `normalize_from_training`.
    pub normalization: Option<Normalization>,
    store: FeatureStore,
    /// The extraction of these features (`None` for [`PreparedData::in_memory`]): streamed
    /// batches and waveform mixup compute features with it.
    extractor: Option<Box<FeatureExtractor>>,
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
            normalization: None,
            store: FeatureStore::Memory(features),
            extractor: None,
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

    /// The value of padding frames (silence of the features, normalised as they are).
    pub fn pad_value(&self) -> f32 {
        self.silence
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
            FeatureStore::Streamed { .. } => {
                let extractor = self.extractor()?;
                let spec = extractor.extract(&self.dataset.clips[i].path)?.spec;
                let (spec, valid) = spec.into_fitted(self.frames, self.silence);
                out.extend_from_slice(&spec.data);
                Ok(valid)
            }
        }
    }

    fn extractor(&self) -> Result<&FeatureExtractor> {
        self.extractor.as_deref().ok_or_else(|| {
            TrainError::Config("these features were given, not extracted from files".into())
        })
    }

    /// Waveform mixup (PSLA's): for each pair, clip `pair.clip` of `clips` (the batch's clip
    /// indices) becomes the features of `lambda * its waveform + (1 - lambda) * the partner's`,
    /// both without their mean, the partner cut or zero-padded to the clip's length, fitted to
    /// the run's frames; its valid length is the clip's. Targets are left to the caller.
    ///
    /// # Errors
    /// A clip that can no longer be decoded, or data without an extractor.
    pub fn mix_waveforms(
        &self,
        clips: &[usize],
        pairs: &[crate::batch::MixPair],
        batch: &mut crate::batch::HostBatch,
    ) -> Result<()> {
        use rayon::prelude::*;
        let extractor = self.extractor()?;
        let per_clip = self.frames * self.mels;
        let load = |i: usize| -> Result<Vec<f32>> {
            let mut samples = extractor.load_samples(&self.dataset.clips[clips[i]].path)?;
            let mean = samples.iter().map(|&v| v as f64).sum::<f64>() / samples.len().max(1) as f64;
            samples.iter_mut().for_each(|v| *v -= mean as f32);
            Ok(samples)
        };
        let mixed: Vec<Result<(usize, Vec<f32>, usize)>> = pairs
            .par_iter()
            .map(|p| {
                let (mine, theirs) = (load(p.clip)?, load(p.partner)?);
                let mix: Vec<f32> = mine
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| {
                        p.lambda * v + (1.0 - p.lambda) * theirs.get(k).copied().unwrap_or(0.0)
                    })
                    .collect();
                let spec = extractor.extract_samples(&mix)?.spec;
                let (spec, valid) = spec.into_fitted(self.frames, self.silence);
                Ok((p.clip, spec.data, valid))
            })
            .collect();
        for result in mixed {
            let (b, data, valid) = result?;
            batch.x[b * per_clip..(b + 1) * per_clip].copy_from_slice(&data);
            batch.lengths[b] = valid.max(1);
        }
        Ok(())
    }
}

/// Mean and standard deviation of every value of the training clips' features (PSLA's
/// `--dataset_mean`/`--dataset_std`, measured on our own features), accumulated in `f64`.
#[derive(Clone, Copy, Debug, Default)]
struct FeatureMoments {
    count: u64,
    sum: f64,
    sum_sq: f64,
}

impl FeatureMoments {
    fn add(&mut self, values: &[f32]) {
        self.count += values.len() as u64;
        for &v in values {
            self.sum += v as f64;
            self.sum_sq += v as f64 * v as f64;
        }
    }

    /// The normalisation `(x - mean) / (2 std)` of these values; `None` without values or
    /// with constant ones.
    fn normalization(&self) -> Option<Normalization> {
        let n = self.count as f64;
        let mean = self.sum / n.max(1.0);
        let var = (self.sum_sq / n.max(1.0) - mean * mean).max(0.0);
        let n = Normalization {
            mean: mean as f32,
            std: var.sqrt() as f32,
        };
        (self.count > 0 && n.validate().is_ok()).then_some(n)
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
    let rows = cfg.frames.map(|f| f * cfg.rows_per_frame());
    prepare_dataset(dataset, cfg, cache, rows, reporter)
}

/// Extracts the features of an already loaded dataset; `rows` fixes the length in rows of
/// the features (frames of a spectrogram, samples of a waveform; else the longest training
/// clip, at most [`max_auto_frames`] frames). Unreadable files, truncated files, an
/// unwritable cache and clips cropped to the frame count are reported as warnings.
///
/// # Errors
/// As [`prepare`].
pub fn prepare_dataset(
    dataset: Dataset,
    cfg: &TrainConfig,
    cache: Option<&Path>,
    rows: Option<usize>,
    reporter: &dyn Reporter,
) -> Result<PreparedData> {
    // With normalize_from_training the features are extracted raw, measured, then normalised.
    let measure = cfg.normalize_from_training && cfg.normalize.is_none();
    let mut extractor = FeatureExtractor::new(cfg.feature_config(), cache.map(Path::to_path_buf))?;
    let mut moments = FeatureMoments::default();
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
            if measure && dataset.clips[lengths.len() - 1].split == Split::Train {
                moments.add(&f.spec.data);
            }
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
    // Rows: frames of a spectrogram, samples of a waveform (a whole number of hops).
    let per_frame = cfg.rows_per_frame();
    let given = rows.is_some();
    let frames = match rows {
        Some(r) => r,
        None => {
            dataset
                .clips
                .iter()
                .zip(&lengths)
                .filter(|(c, _)| c.split == Split::Train)
                .filter_map(|(_, l)| *l)
                .max()
                .unwrap_or(1)
                .div_ceil(per_frame)
                .clamp(1, max_auto_frames(cfg.hop_ms))
                * per_frame
        }
    };
    // Said in frames at the hop, whatever the rows are.
    let frame_lengths: Vec<Option<usize>> = lengths
        .iter()
        .map(|l| l.map(|l| cfg.frames_of_rows(l)))
        .collect();
    if let Some(warning) = crop_warning(&frame_lengths, frames / per_frame, given, cfg.hop_ms) {
        reporter.warn(&warning);
    }
    let mut normalization = cfg.normalize;
    if measure {
        let computed = moments.normalization().ok_or_else(|| {
            TrainError::Config(format!(
                "--normalize auto: the training clips of {} have constant features",
                cfg.data.display()
            ))
        })?;
        reporter.note(&format!(
            "normalising the features as (x - {}) / (2 x {}): the mean and standard deviation of the training clips' features",
            computed.mean, computed.std
        ));
        normalization = Some(computed);
        // Same cache entries (the normalisation is applied after reading them).
        let normalized = diffres_audio::FeatureConfig {
            normalize: normalization,
            ..cfg.feature_config()
        };
        extractor = FeatureExtractor::new(normalized, cache.map(Path::to_path_buf))?;
    }
    // Silence of the features as the extractor gives them (normalised when they are).
    let silence = extractor.config().pad_value();
    let store = match raw {
        Some(raw) => FeatureStore::Memory(
            raw.into_iter()
                .map(|spec| {
                    spec.map(|mut spec| {
                        if measure {
                            if let Some(n) = &normalization {
                                n.apply_all(&mut spec.data);
                            }
                        }
                        let (spec, valid) = spec.into_fitted(frames, silence);
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
            FeatureStore::Streamed { lengths }
        }
    };
    let prepared = PreparedData {
        dataset,
        frames,
        mels: cfg.feature_config().width(),
        skipped,
        normalization,
        store,
        extractor: Some(Box::new(extractor)),
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
