//! Checkpoints in and out at the run level: `--init` from run folders, `.bpk` files and
//! PyTorch-named files (`diffres_train::init`), `diffres export` and its round trip through our
//! own reader (`diffres_train::export`), and training on Kaldi features.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::prelude::*;
use burn::tensor::Distribution;
use diffres::FrontEndKind;
use diffres_audio::{FeatureKind, Normalization};
use diffres_models::checkpoint::Checkpoint;
use diffres_models::{CheckpointKind, ClassifierHead, ClassifierKind};
use diffres_train::config::RUN_FORMAT_VERSION;
use diffres_train::export::export_run;
use diffres_train::inference::load_run;
use diffres_train::init::initialise;
use diffres_train::model::AudioModel;
use diffres_train::reporter::{Console, Reporter};
use diffres_train::run::{write_json, RunDir, RunInfo};
use diffres_train::trainer::checkpoint::save_model;
use diffres_train::{train, TrainConfig, TrainOptions};

/// Keeps the notes.
#[derive(Debug, Default)]
struct Notes(Mutex<Vec<String>>);

impl Notes {
    fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

impl Reporter for Notes {
    fn bar(&self, len: u64, prefix: &str) -> indicatif::ProgressBar {
        Console::quiet().bar(len, prefix)
    }
    fn info(&self, _: &str) {}
    fn note(&self, line: &str) {
        self.0.lock().unwrap().push(line.to_string());
    }
    fn warn(&self, line: &str) {
        self.0.lock().unwrap().push(format!("warning: {line}"));
    }
}

fn config(frontend: FrontEndKind, model: ClassifierKind, head: ClassifierHead) -> TrainConfig {
    TrainConfig {
        frontend,
        model,
        head,
        reduction: 0.5,
        mels: 16,
        frames: Some(40),
        cnn_width: 4,
        ..TrainConfig::default()
    }
}

/// A run folder holding a freshly initialised model as its best checkpoint.
fn run_folder(dir: &Path, cfg: &TrainConfig, classes: usize) -> AudioModel {
    let run = RunDir::new(dir);
    std::fs::create_dir_all(run.checkpoints()).unwrap();
    let info = RunInfo {
        format_version: RUN_FORMAT_VERSION,
        config: cfg.clone(),
        frames: 40,
        classes: (0..classes).map(|c| format!("class{c}")).collect(),
        multi_label: false,
        dataset: "made up".into(),
        tool_version: "test".into(),
    };
    write_json(&run.config(), &info).unwrap();
    let model = AudioModel::new(cfg, classes, &Device::flex()).unwrap();
    save_model(&model, &run.best()).unwrap();
    model
}

fn outputs(model: &AudioModel, x: &Tensor<3>) -> (Vec<f32>, Vec<f32>) {
    let (out, fe) = model.forward(x.clone(), None).unwrap();
    let read = |t: Tensor<4>| t.into_data().convert::<f32>().try_to_vec().unwrap();
    (
        out.into_data().convert::<f32>().try_to_vec().unwrap(),
        read(fe.feature),
    )
}

fn input() -> Tensor<3> {
    let device = Device::flex();
    device.seed(9);
    Tensor::<3>::random([2, 40, 16], Distribution::Normal(-5.0, 2.0), &device)
}

#[test]
fn an_export_reads_back_into_the_same_model() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        FrontEndKind::DiffRes,
        ClassifierKind::EfficientNetB0,
        ClassifierHead::Psla,
    );
    run_folder(tmp.path(), &cfg, 3);
    let run = load_run(tmp.path()).unwrap();
    let out = tmp.path().join("model.safetensors");
    let exported = export_run(&run, &out).unwrap();
    assert!(exported
        .classifier
        .as_deref()
        .unwrap()
        .contains("EffNetAttention (efficientnet-b0, 3 classes"));
    assert!(exported
        .frontend
        .as_deref()
        .unwrap()
        .contains("in_t_dim=40, in_f_dim=16"));
    // Trained with our exact score normalisation, and at 16 mel bins: both said.
    let notes = exported.notes.join("\n");
    assert!(
        notes.contains("--score-norm exact") && notes.contains("not 16"),
        "{notes}"
    );

    let ckpt = Checkpoint::read(&out).unwrap();
    assert_eq!(
        ckpt.kinds(),
        vec![CheckpointKind::Psla, CheckpointKind::PyDiffRes]
    );
    assert_eq!(
        ckpt.metadata["diffres.classes"],
        r#"["class0","class1","class2"]"#
    );
    assert_eq!(ckpt.metadata["diffres.head"], "psla");
    assert_eq!(exported.tensors, ckpt.tensors.len() + ckpt.dropped.len());

    let notes = Notes::default();
    let fresh = AudioModel::new(&cfg, 3, &Device::flex()).unwrap();
    let x = input();
    assert_ne!(outputs(&fresh, &x), outputs(&run.model, &x));
    let back = initialise(fresh, &[out], &notes).unwrap();
    assert_eq!(outputs(&back, &x), outputs(&run.model, &x));
    let text = notes.text();
    assert!(
        text.contains("initialised the classifier")
            && text.contains("initialised the DiffRes front end"),
        "{text}"
    );

    // A run without anything PyTorch has: an error naming the run folder.
    let other = tmp.path().join("cnn-avgpool");
    run_folder(
        &other,
        &config(
            FrontEndKind::AvgPool,
            ClassifierKind::Cnn,
            ClassifierHead::Logits,
        ),
        3,
    );
    let err = export_run(
        &load_run(&other).unwrap(),
        &tmp.path().join("x.safetensors"),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("cnn-avgpool") && err.to_string().contains("nothing to export"),
        "{err}"
    );
}

#[test]
fn a_run_initialises_another_with_other_classes_and_damage_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        FrontEndKind::DiffRes,
        ClassifierKind::Cnn,
        ClassifierHead::Logits,
    );
    let source = run_folder(tmp.path(), &cfg, 3);
    let x = input();
    for from in [tmp.path().to_path_buf(), RunDir::new(tmp.path()).best()] {
        let notes = Notes::default();
        let model = initialise(
            AudioModel::new(&cfg, 5, &Device::flex()).unwrap(),
            std::slice::from_ref(&from),
            &notes,
        )
        .unwrap();
        // The front end and the convolutions come over; the head (5 classes, not 3) is new.
        assert_eq!(outputs(&model, &x).1, outputs(&source, &x).1);
        let text = notes.text();
        assert!(
            text.contains("head is re-initialised"),
            "{}: {text}",
            from.display()
        );
    }
    // A flipped byte in the checkpoint is an error naming it, not a silently wrong model.
    let best = RunDir::new(tmp.path()).best();
    let mut bytes = std::fs::read(&best).unwrap();
    bytes[100] ^= 0x20;
    let damaged = tmp.path().join("damaged.bpk");
    std::fs::write(&damaged, bytes).unwrap();
    let err = initialise(
        AudioModel::new(&cfg, 3, &Device::flex()).unwrap(),
        &[damaged],
        &Notes::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("damaged.bpk") && err.to_string().contains("checksum"),
        "{err}"
    );
    // An empty folder is not a run.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = initialise(
        AudioModel::new(&cfg, 3, &Device::flex()).unwrap(),
        &[empty],
        &Notes::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("best.bpk"), "{err}");
}

#[test]
fn a_layer_checkpoint_needs_a_diffres_front_end_and_unknown_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        FrontEndKind::DiffRes,
        ClassifierKind::Cnn,
        ClassifierHead::Logits,
    );
    run_folder(tmp.path(), &cfg, 3);
    let layer = tmp.path().join("layer.safetensors");
    let exported = export_run(&load_run(tmp.path()).unwrap(), &layer).unwrap();
    assert!(
        exported.classifier.is_none()
            && exported
                .notes
                .join(" ")
                .contains("cnn classifier has no PyTorch")
    );
    let avgpool = config(
        FrontEndKind::AvgPool,
        ClassifierKind::Cnn,
        ClassifierHead::Logits,
    );
    let err = initialise(
        AudioModel::new(&avgpool, 3, &Device::flex()).unwrap(),
        std::slice::from_ref(&layer),
        &Notes::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("--frontend diffres"), "{err}");

    let unknown = tmp.path().join("unknown.safetensors");
    let mut tensors = std::collections::BTreeMap::new();
    tensors.insert(
        "encoder.weight".to_string(),
        diffres_models::HostTensor::new(vec![2], vec![1.0, 2.0]).unwrap(),
    );
    Checkpoint::write_safetensors(&unknown, &tensors, &[], &Default::default()).unwrap();
    let err = initialise(
        AudioModel::new(&cfg, 3, &Device::flex()).unwrap(),
        &[unknown],
        &Notes::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("encoder.weight"), "{err}");
}

#[test]
fn a_run_trains_on_kaldi_features_and_initialises_the_next() {
    let _guard = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        features: FeatureKind::Kaldi,
        normalize: Some(Normalization {
            mean: -6.0,
            std: 3.0,
        }),
        epochs: 1,
        ..common::tiny_config(FrontEndKind::DiffRes)
    };
    let first = tmp.path().join("first");
    let results = train(&cfg, &common::options(&first)).unwrap();
    assert_eq!(results.frames_in, Some(40));
    let info = RunDir::new(&first).read_info().unwrap();
    assert_eq!(
        (info.config.features, info.config.normalize),
        (cfg.features, cfg.normalize)
    );

    let notes = std::sync::Arc::new(Notes::default());
    let second = tmp.path().join("second");
    let opts = TrainOptions {
        reporter: notes.clone(),
        ..TrainOptions::new(&second)
    };
    let next = TrainConfig {
        init: vec![first.clone()],
        ..cfg.clone()
    };
    train(&next, &opts).unwrap();
    let text = notes.text();
    assert!(
        text.contains("initialised the model from") && text.contains("first"),
        "{text}"
    );
    assert_eq!(
        RunDir::new(&second).read_info().unwrap().config.init,
        vec![PathBuf::from(&first)]
    );
}
