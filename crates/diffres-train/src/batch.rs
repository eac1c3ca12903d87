//! Batches: sampling order, SpecAugment, mixup, targets. All on the host, all seeded.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution};

use crate::data::PreparedData;

/// A batch on the host.
#[derive(Clone, Debug)]
pub struct HostBatch {
    /// `[B, T, F]` log-mel, row-major.
    pub x: Vec<f32>,
    /// Valid frames per clip.
    pub lengths: Vec<usize>,
    /// `[B, C]` target distribution (one-hot, multi-hot or mixed).
    pub targets: Vec<f32>,
    /// Clips in the batch.
    pub size: usize,
}

impl HostBatch {
    /// The batch as tensors on a device; the host buffers move into them (no copy).
    ///
    /// Returns `(x [B, T, F], targets [B, C], lengths)`.
    pub fn into_tensors(
        self,
        frames: usize,
        mels: usize,
        classes: usize,
        device: &burn::prelude::Device,
    ) -> (
        burn::prelude::Tensor<3>,
        burn::prelude::Tensor<2>,
        Vec<usize>,
    ) {
        use burn::prelude::{Tensor, TensorData};
        let size = self.size;
        let x = Tensor::<3>::from_data(TensorData::new(self.x, [size, frames, mels]), device);
        let y = Tensor::<2>::from_data(TensorData::new(self.targets, [size, classes]), device);
        (x, y, self.lengths)
    }
}

/// The random streams of a training run. Each has its own seed, derived from the run's seed,
/// the stream, the epoch and the step by [`diffres_data::derive_seed`] (the project's one
/// seed-derivation function), so runs are reproducible and resumable, and turning one
/// augmentation on does not change another's draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RngStream {
    /// The device's initial weights.
    Init,
    /// The device's randomness during an epoch (dropout, drop-connect).
    Device,
    /// The order of training clips in an epoch.
    EpochOrder,
    /// SpecAugment's masks of a step.
    SpecAugment,
    /// Mixup's partners and weights of a step.
    Mixup,
}

impl RngStream {
    /// The stream's identifier in the seed derivation (never reorder: it fixes the numbers).
    fn id(self) -> u64 {
        match self {
            RngStream::Init => 1,
            RngStream::Device => 2,
            RngStream::EpochOrder => 3,
            RngStream::SpecAugment => 4,
            RngStream::Mixup => 5,
        }
    }

    /// The seed of this stream at `(epoch, step)` of a run seeded with `seed`.
    pub fn seed(self, seed: u64, epoch: usize, step: usize) -> u64 {
        diffres_data::derive_seed(seed, &[self.id(), epoch as u64, step as u64])
    }

    /// A host RNG of this stream at `(epoch, step)`.
    pub fn rng(self, seed: u64, epoch: usize, step: usize) -> StdRng {
        StdRng::seed_from_u64(self.seed(seed, epoch, step))
    }
}

/// The order of training clips for an epoch: a seeded shuffle, or with `balance` a seeded
/// sample with replacement weighted by the inverse frequency of each clip's rarest label.
pub fn epoch_order(
    data: &PreparedData,
    train: &[usize],
    seed: u64,
    epoch: usize,
    balance: bool,
) -> Vec<usize> {
    let mut rng = RngStream::EpochOrder.rng(seed, epoch, 0);
    if !balance {
        let mut order = train.to_vec();
        order.shuffle(&mut rng);
        return order;
    }
    let classes = data.dataset.classes.len();
    let mut counts = vec![0usize; classes];
    for &i in train {
        for &l in &data.dataset.clips[i].labels {
            counts[l] += 1;
        }
    }
    let weights: Vec<f64> = train
        .iter()
        .map(|&i| {
            data.dataset.clips[i]
                .labels
                .iter()
                .map(|&l| 1.0 / counts[l].max(1) as f64)
                .fold(0.0, f64::max)
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let cumulative: Vec<f64> = weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w / total;
            Some(*acc)
        })
        .collect();
    (0..train.len())
        .map(|_| {
            let u: f64 = rng.random();
            let k = cumulative.partition_point(|&c| c < u).min(train.len() - 1);
            train[k]
        })
        .collect()
}

/// Builds a batch of the given clips, without augmentation.
///
/// # Errors
/// A streamed clip whose features can no longer be read.
pub fn assemble(data: &PreparedData, clips: &[usize]) -> crate::Result<HostBatch> {
    let classes = data.dataset.classes.len();
    let per_clip = data.frames * data.mels;
    let mut x = Vec::with_capacity(clips.len() * per_clip);
    let mut lengths = Vec::with_capacity(clips.len());
    let mut targets = vec![0f32; clips.len() * classes];
    for (b, &i) in clips.iter().enumerate() {
        let valid = data.append_features(i, &mut x)?;
        lengths.push(valid.max(1));
        let labels = &data.dataset.clips[i].labels;
        for &l in labels {
            targets[b * classes + l] = if data.dataset.multi_label {
                1.0
            } else {
                1.0 / labels.len() as f32
            };
        }
    }
    Ok(HostBatch {
        x,
        lengths,
        targets,
        size: clips.len(),
    })
}

/// What mixup mixes.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum MixupDomain {
    /// The log-mel (or Kaldi) features of the two clips.
    #[default]
    LogMel,
    /// The two waveforms, each without its mean, before the features are computed (PSLA's
    /// dataloader); the partner is cut or zero-padded to the clip's length.
    Waveform,
}

impl std::fmt::Display for MixupDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MixupDomain::LogMel => "logmel",
            MixupDomain::Waveform => "waveform",
        })
    }
}

impl std::str::FromStr for MixupDomain {
    type Err = crate::TrainError;

    /// `logmel` (also `features`) or `waveform`.
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "logmel" | "log-mel" | "features" => Ok(MixupDomain::LogMel),
            "waveform" | "wave" => Ok(MixupDomain::Waveform),
            other => Err(crate::TrainError::Config(format!(
                "--mixup-on '{other}': expected logmel or waveform"
            ))),
        }
    }
}

/// SpecAugment's widest masks; `None` takes this crate's defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaskWidths {
    /// Widest frequency mask in bins (default 37.5% of the bins).
    pub freq: Option<usize>,
    /// Widest time mask in frames (default half the clip's valid frames).
    pub time: Option<usize>,
}

/// SpecAugment as in PSLA: one frequency mask and one time mask per clip, filled with
/// `silence` (the log floor), so that masked frames look empty to DiffRes's guide loss. A mask
/// is `0..=widest` wide (capped by the bins and by the clip's valid frames) at a uniform
/// position; the default widths are 37.5% of the bins and 50% of the valid frames.
pub fn spec_augment(
    batch: &mut HostBatch,
    frames: usize,
    mels: usize,
    silence: f32,
    widths: MaskWidths,
    rng: &mut StdRng,
) {
    for b in 0..batch.size {
        let clip = &mut batch.x[b * frames * mels..(b + 1) * frames * mels];
        let widest_freq = widths.freq.unwrap_or(mels * 3 / 8).min(mels);
        let width = rng.random_range(0..=widest_freq);
        let start = rng.random_range(0..=(mels - width));
        let valid = batch.lengths[b].min(frames);
        let span = rng.random_range(0..=widths.time.unwrap_or(valid / 2).min(valid));
        let begin = rng.random_range(0..=(valid - span));
        for t in 0..frames {
            let row = &mut clip[t * mels..(t + 1) * mels];
            if t >= begin && t < begin + span {
                row.fill(silence);
            } else {
                row[start..start + width].fill(silence);
            }
        }
    }
}

/// One clip's mixup partner in its batch and weight: the clip is `lambda * itself +
/// (1 - lambda) * partner`, targets alike.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixPair {
    /// The clip's index in the batch.
    pub clip: usize,
    /// The partner's index in the batch (never the clip itself).
    pub partner: usize,
    /// The clip's weight, `~ Beta(10, 10)`.
    pub lambda: f32,
}

/// Mixup's draws for a batch (PSLA's recipe): each clip, with probability `rate`, gets another
/// clip of the batch as partner and `lambda ~ Beta(10, 10)`. The draws do not depend on what is
/// mixed, so log-mel and waveform mixup of a step pair the same clips.
pub fn mix_pairs(size: usize, rate: f64, rng: &mut StdRng) -> Vec<MixPair> {
    if size < 2 || rate <= 0.0 {
        return Vec::new();
    }
    let beta = Beta::new(10.0f32, 10.0).expect("valid parameters");
    let mut pairs = Vec::new();
    for clip in 0..size {
        if !rng.random_bool(rate.min(1.0)) {
            continue;
        }
        let mut partner = rng.random_range(0..size - 1);
        if partner >= clip {
            partner += 1;
        }
        let lambda = beta.sample(rng);
        pairs.push(MixPair {
            clip,
            partner,
            lambda,
        });
    }
    pairs
}

/// Mixes the targets of `pairs` (from the batch's original targets).
pub fn mix_targets(batch: &mut HostBatch, classes: usize, pairs: &[MixPair]) {
    let original = batch.targets.clone();
    for p in pairs {
        for c in 0..classes {
            batch.targets[p.clip * classes + c] = p.lambda * original[p.clip * classes + c]
                + (1.0 - p.lambda) * original[p.partner * classes + c];
        }
    }
}

/// Mixup on the log-mel features: each clip of [`mix_pairs`] at `rate` becomes
/// `lambda * itself + (1 - lambda) * partner`, features and targets alike.
pub fn mixup(
    batch: &mut HostBatch,
    frames: usize,
    mels: usize,
    classes: usize,
    rate: f64,
    rng: &mut StdRng,
) {
    let pairs = mix_pairs(batch.size, rate, rng);
    let original = batch.clone();
    let per_clip = frames * mels;
    mix_targets(batch, classes, &pairs);
    for &MixPair {
        clip: b,
        partner: other,
        lambda,
    } in &pairs
    {
        let (mine, theirs) = (b * per_clip, other * per_clip);
        for k in 0..per_clip {
            batch.x[mine + k] =
                lambda * original.x[mine + k] + (1.0 - lambda) * original.x[theirs + k];
        }
        batch.lengths[b] = original.lengths[b].max(original.lengths[other]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ClipFeatures;
    use diffres_data::{Clip, Dataset, Format, Split};

    fn fake_data(labels: &[Vec<usize>], multi_label: bool) -> PreparedData {
        let clips = labels
            .iter()
            .enumerate()
            .map(|(i, l)| Clip {
                path: format!("{i}.wav").into(),
                labels: l.clone(),
                split: Split::Train,
            })
            .collect();
        PreparedData::in_memory(
            Dataset {
                name: "fake".into(),
                format: Format::Csv,
                classes: vec!["a".into(), "b".into(), "c".into()],
                multi_label,
                clips,
                notes: Vec::new(),
                warnings: Vec::new(),
            },
            2,
            1,
            labels
                .iter()
                .map(|_| {
                    Some(ClipFeatures {
                        data: vec![0.0, 1.0],
                        valid: 2,
                    })
                })
                .collect(),
        )
    }

    #[test]
    fn balanced_sampling_favours_rare_labels() {
        // 19 clips of "a", one of "b": re-balancing draws "b" about half the time.
        let mut labels = vec![vec![0]; 19];
        labels.push(vec![1]);
        let data = fake_data(&labels, true);
        let train: Vec<usize> = (0..20).collect();
        let mut rare = 0;
        for epoch in 1..=50 {
            let order = epoch_order(&data, &train, 9, epoch, true);
            assert_eq!(order.len(), 20);
            rare += order.iter().filter(|&&i| i == 19).count();
        }
        let share = rare as f64 / 1000.0;
        assert!((0.4..0.6).contains(&share), "rare share {share}");
        // Without re-balancing every clip appears exactly once per epoch.
        let mut plain = epoch_order(&data, &train, 9, 1, false);
        plain.sort();
        assert_eq!(plain, train);
    }

    #[test]
    fn targets_are_one_hot_or_multi_hot() {
        let single = assemble(&fake_data(&[vec![2], vec![0]], false), &[0, 1]).unwrap();
        assert_eq!(single.targets, vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        let multi = assemble(&fake_data(&[vec![0, 2]], true), &[0]).unwrap();
        assert_eq!(multi.targets, vec![1.0, 0.0, 1.0]);
        assert_eq!(multi.x, vec![0.0, 1.0]);
    }

    #[test]
    fn augmentations_are_seeded_and_bounded() {
        let mut batch = HostBatch {
            x: vec![1.0; 2 * 10 * 8],
            lengths: vec![10, 10],
            targets: vec![1.0, 0.0, 0.0, 1.0],
            size: 2,
        };
        let mut again = batch.clone();
        let rng = || RngStream::SpecAugment.rng(1, 2, 3);
        let widths = MaskWidths::default();
        spec_augment(&mut batch, 10, 8, -5.0, widths, &mut rng());
        spec_augment(&mut again, 10, 8, -5.0, widths, &mut rng());
        assert_eq!(batch.x, again.x);
        let masked = batch.x.iter().filter(|&&v| v == -5.0).count();
        // At most 3 of 8 bins in 5 unmasked frames plus 5 fully masked frames, per clip.
        assert!(masked <= 2 * (5 * 8 + 5 * 3));
        mixup(
            &mut batch,
            10,
            8,
            2,
            0.5,
            &mut RngStream::Mixup.rng(1, 2, 3),
        );
        for b in 0..2 {
            let s: f32 = batch.targets[b * 2..b * 2 + 2].iter().sum();
            assert!((s - 1.0).abs() < 1e-6, "mixed targets still sum to 1");
        }
    }

    #[test]
    fn mask_widths_and_the_mixup_rate_are_obeyed() {
        let fresh = || HostBatch {
            x: vec![1.0; 3 * 20 * 16],
            lengths: vec![20, 20, 10],
            targets: vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0],
            size: 3,
        };
        for seed in 0..20 {
            let mut batch = fresh();
            let widths = MaskWidths {
                freq: Some(2),
                time: Some(3),
            };
            let mut rng = RngStream::SpecAugment.rng(seed, 1, 0);
            spec_augment(&mut batch, 20, 16, 0.0, widths, &mut rng);
            for b in 0..3 {
                let clip = &batch.x[b * 320..(b + 1) * 320];
                let full_rows = clip
                    .chunks(16)
                    .filter(|r| r.iter().all(|&v| v == 0.0))
                    .count();
                assert!(full_rows <= 3, "time mask wider than 3 frames");
                // Outside the time mask at most 2 bins of a row are masked.
                for row in clip.chunks(16).filter(|r| r.contains(&1.0)) {
                    assert!(row.iter().filter(|&&v| v == 0.0).count() <= 2);
                }
            }
        }
        let mut none = fresh();
        mixup(
            &mut none,
            20,
            16,
            2,
            0.0,
            &mut RngStream::Mixup.rng(1, 1, 0),
        );
        assert_eq!(none.targets, fresh().targets);
        let pairs = mix_pairs(3, 1.0, &mut RngStream::Mixup.rng(1, 1, 0));
        assert_eq!(pairs.len(), 3, "rate 1 mixes every clip");
        assert!(pairs.iter().all(|p| p.partner != p.clip && p.partner < 3));
        let mut all = fresh();
        mixup(&mut all, 20, 16, 2, 1.0, &mut RngStream::Mixup.rng(1, 1, 0));
        for p in &pairs {
            let want = p.lambda * fresh().targets[p.clip * 2]
                + (1.0 - p.lambda) * fresh().targets[p.partner * 2];
            assert!((all.targets[p.clip * 2] - want).abs() < 1e-6);
        }
    }

    #[test]
    fn streams_are_distinct_and_follow_the_one_derivation() {
        use std::collections::HashSet;
        let streams = [
            RngStream::Init,
            RngStream::Device,
            RngStream::EpochOrder,
            RngStream::SpecAugment,
            RngStream::Mixup,
        ];
        let seeds: HashSet<u64> = streams.iter().map(|s| s.seed(7, 3, 2)).collect();
        assert_eq!(seeds.len(), streams.len());
        assert_eq!(
            RngStream::Mixup.seed(7, 3, 2),
            diffres_data::derive_seed(7, &[5, 3, 2])
        );
        assert_ne!(
            RngStream::Mixup.seed(7, 3, 2),
            RngStream::Mixup.seed(7, 3, 1)
        );
        assert_ne!(
            RngStream::Mixup.seed(7, 3, 2),
            RngStream::Mixup.seed(7, 2, 2)
        );
    }
}
