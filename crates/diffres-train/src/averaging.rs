//! Weight averaging (`--average-from EPOCH`, PSLA's `--wa`): the model a run is evaluated with
//! is the mean of the weights of every epoch from `EPOCH` to the last, batch-norm running
//! statistics included, as PSLA's `validate_wa` averages its saved `state_dict`s.
//!
//! The mean is kept as it grows: after each averaged epoch `k` (1-based count), every value is
//! `a + (x - a) / k`, and the average is saved with the epoch's checkpoints
//! (`checkpoints/average-NNN.bpk`, named in `state.json`), so a resumed run continues the same
//! average and ends with the same numbers as an uninterrupted one. When the last epoch is done
//! the average's batch-norm statistics are re-estimated with its own weights (as every epoch's
//! are, see [`crate::trainer::BN_REFRESH_BATCHES`]) and it is written to
//! `checkpoints/averaged.bpk`, which `eval`, `predict` and `visualize` then use.

use std::path::Path;

use diffres_models::checkpoint::{apply, collect};

use crate::error::{Result, TrainError};
use crate::model::AudioModel;

/// The running average's checkpoint file name after `epoch`.
pub fn average_file(epoch: usize) -> String {
    format!("average-{epoch:03}.bpk")
}

/// The average of `count` models after adding `model` to the average of the `count - 1`
/// before it (`average`, `None` when `count` is 1). `fresh` builds an empty model of the same
/// shape, which becomes the new average: the result never shares a tensor (or batch-norm
/// state) with `model` or `average`.
///
/// # Errors
/// Models of different shapes, or `count` 0.
pub fn add_to_average(
    average: Option<&AudioModel>,
    model: &AudioModel,
    count: usize,
    fresh: impl FnOnce() -> Result<AudioModel>,
) -> Result<AudioModel> {
    let mut values = collect(model, false);
    match (average, count) {
        (_, 0) => {
            return Err(TrainError::Config(
                "an average of 0 models has no weights".into(),
            ))
        }
        (None, 1) => {}
        (Some(average), k) => {
            let mean = collect(average, false);
            for (name, tensor) in values.iter_mut() {
                let old = mean.get(name).ok_or_else(|| {
                    TrainError::Config(format!("the averaged model has no tensor {name}"))
                })?;
                for (x, &a) in tensor.data.iter_mut().zip(&old.data) {
                    *x = a + (*x - a) / k as f32;
                }
            }
        }
        (None, k) => {
            return Err(TrainError::Config(format!(
                "adding the {k}th model to an average needs the average of the {} before it",
                k - 1
            )))
        }
    }
    let mut out = fresh()?;
    let report = apply(
        &mut out,
        values.into_iter().collect(),
        false,
        Path::new("average"),
    )
    .map_err(|e| TrainError::Config(format!("cannot build the weight average: {e}")))?;
    if !report.missing.is_empty() || !report.skipped.is_empty() {
        return Err(TrainError::Config(format!(
            "the weight average does not fit the model: {} tensors missing, {} of another shape",
            report.missing.len(),
            report.skipped.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrainConfig;
    use burn::prelude::*;
    use diffres::FrontEndKind;

    fn config() -> TrainConfig {
        TrainConfig {
            frontend: FrontEndKind::DiffRes,
            reduction: 0.5,
            mels: 8,
            cnn_width: 4,
            ..TrainConfig::default()
        }
    }

    fn model(seed: u64) -> AudioModel {
        let device = Device::flex();
        device.seed(seed);
        crate::model::fork_drawn(AudioModel::new(&config(), 3, &device).unwrap(), &device)
    }

    /// The running mean of three models is their plain mean, tensor by tensor, batch-norm
    /// statistics included.
    #[test]
    fn the_running_average_is_the_mean_of_every_tensor() {
        let models: Vec<AudioModel> = (1..=3).map(model).collect();
        let fresh = || AudioModel::new(&config(), 3, &Device::flex());
        let mut average = add_to_average(None, &models[0], 1, fresh).unwrap();
        for (k, m) in models.iter().enumerate().skip(1) {
            average = add_to_average(Some(&average), m, k + 1, fresh).unwrap();
        }
        let got = collect(&average, false);
        let each: Vec<_> = models.iter().map(|m| collect(m, false)).collect();
        assert!(
            got.keys().any(|k| k.contains("running_var")),
            "{:?}",
            got.keys()
        );
        for (name, tensor) in &got {
            for (i, &v) in tensor.data.iter().enumerate() {
                let want = each.iter().map(|m| m[name].data[i]).sum::<f32>() / 3.0;
                assert!(
                    (v - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "{name}[{i}]"
                );
            }
        }
        assert!(add_to_average(None, &models[0], 2, fresh).is_err());
        assert!(add_to_average(None, &models[0], 0, fresh).is_err());
    }
}
