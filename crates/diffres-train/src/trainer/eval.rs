//! Prediction and metrics over a set of clips: the validation pass of every epoch, the final
//! test pass, and `eval` (through [`crate::inference`]).

use burn::prelude::*;
use diffres_report::{evaluate_multi_label, evaluate_single_label, Evaluation};

use crate::batch::assemble;
use crate::data::PreparedData;
use crate::error::Result;
use crate::loss::OutputKind;
use crate::model::AudioModel;

/// How a prediction pass runs: batch size, lengths, device, and what the model outputs.
#[derive(Clone, Copy, Debug)]
pub struct PassOptions<'a> {
    /// Clips per forward pass.
    pub batch_size: usize,
    /// Pass each clip's true length to the front end.
    pub variable_length: bool,
    /// The device of the model.
    pub device: &'a Device,
    /// What the model outputs (its loss and probabilities).
    pub output: OutputKind,
}

/// Probabilities for the given clips, and the mean classification loss.
///
/// # Errors
/// Front-end errors.
pub fn predict_clips(
    model: &AudioModel,
    data: &PreparedData,
    clips: &[usize],
    pass: PassOptions<'_>,
) -> Result<(Vec<Vec<f32>>, f64)> {
    let PassOptions {
        batch_size,
        variable_length,
        device,
        output,
    } = pass;
    let classes = data.dataset.classes.len();
    let mut probs = Vec::with_capacity(clips.len());
    let mut loss_sum = 0.0;
    for chunk in clips.chunks(batch_size.max(1)) {
        let batch = assemble(data, chunk)?;
        let (x, y, lengths) = batch.into_tensors(data.frames, data.mels, classes, device);
        let lengths = variable_length.then_some(&lengths[..]);
        let (logits, _) = model.forward(x, lengths)?;
        loss_sum += output.loss(logits.clone(), y).into_scalar::<f32>() as f64 * chunk.len() as f64;
        let values = output.probabilities(logits);
        probs.extend(values.chunks(classes).map(<[f32]>::to_vec));
    }
    Ok((probs, loss_sum / clips.len().max(1) as f64))
}

/// Metrics of predicted probabilities against the dataset's labels.
pub fn evaluate_probs(data: &PreparedData, clips: &[usize], probs: &[Vec<f32>]) -> Evaluation {
    let labels: Vec<&Vec<usize>> = clips
        .iter()
        .map(|&i| &data.dataset.clips[i].labels)
        .collect();
    if data.dataset.multi_label {
        let classes = data.dataset.classes.len();
        let targets: Vec<Vec<bool>> = labels
            .iter()
            .map(|l| (0..classes).map(|c| l.contains(&c)).collect())
            .collect();
        evaluate_multi_label(probs, &targets)
    } else {
        let targets: Vec<usize> = labels.iter().map(|l| l[0]).collect();
        evaluate_single_label(probs, &targets)
    }
}

/// Predicts `clips` and scores them: the metrics and the mean classification loss.
///
/// # Errors
/// Front-end errors.
pub fn evaluate_clips(
    model: &AudioModel,
    data: &PreparedData,
    clips: &[usize],
    pass: PassOptions<'_>,
) -> Result<(Evaluation, f64)> {
    let (probs, loss) = predict_clips(model, data, clips, pass)?;
    Ok((evaluate_probs(data, clips, &probs), loss))
}
