//! Prediction and metrics over a set of clips: the validation pass of every epoch, the final
//! test pass, and `eval` (through [`crate::inference`]).

use burn::prelude::*;
use diffres_report::{evaluate_multi_label, evaluate_single_label, Evaluation};

use crate::batch::assemble;
use crate::data::PreparedData;
use crate::error::Result;
use crate::loss::task_loss;
use crate::model::AudioModel;
use diffres_models::ClassifierHead;

/// Class probabilities from a classifier's output `[B, C]`, row-major on the host: PSLA's
/// head gives them itself (clamped to `[0, 1]`); from logits, independent sigmoids for
/// multi-label tasks, a softmax otherwise.
pub fn probabilities(head: ClassifierHead, multi_label: bool, output: Tensor<2>) -> Vec<f32> {
    let p = match (head.outputs_probabilities(), multi_label) {
        (true, _) => output.clamp(0.0, 1.0),
        (false, true) => burn::tensor::activation::sigmoid(output),
        (false, false) => burn::tensor::activation::softmax(output, 1),
    };
    p.into_data()
        .convert::<f32>()
        .try_to_vec()
        .expect("float data")
}

/// Probabilities (softmax or sigmoid) for the given clips, and the mean classification loss.
///
/// # Errors
/// Front-end errors.
pub fn predict_clips(
    model: &AudioModel,
    data: &PreparedData,
    clips: &[usize],
    batch_size: usize,
    variable_length: bool,
    device: &Device,
) -> Result<(Vec<Vec<f32>>, f64)> {
    let classes = data.dataset.classes.len();
    let multi = data.dataset.multi_label;
    let head = model.classifier.head();
    let mut probs = Vec::with_capacity(clips.len());
    let mut loss_sum = 0.0;
    for chunk in clips.chunks(batch_size.max(1)) {
        let batch = assemble(data, chunk)?;
        let (x, y, lengths) = batch.into_tensors(data.frames, data.mels, classes, device);
        let lengths = variable_length.then_some(&lengths[..]);
        let (logits, _) = model.forward(x, lengths)?;
        loss_sum += task_loss(head, multi, logits.clone(), y).into_scalar::<f32>() as f64
            * chunk.len() as f64;
        let values = probabilities(head, multi, logits);
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
    batch_size: usize,
    variable_length: bool,
    device: &Device,
) -> Result<(Evaluation, f64)> {
    let (probs, loss) = predict_clips(model, data, clips, batch_size, variable_length, device)?;
    Ok((evaluate_probs(data, clips, &probs), loss))
}
