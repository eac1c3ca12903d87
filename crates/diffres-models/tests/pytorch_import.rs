//! PyTorch-named checkpoints in and out: PSLA's classifier and `efficientnet_pytorch`'s
//! backbone (`diffres_models::psla`), the authors' DiffRes layer (`diffres_models::pydiffres`),
//! the safetensors writer and reader (`diffres_models::checkpoint`), and what a partial load
//! says.

use std::collections::BTreeMap;
use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::Distribution;
use diffres::{DiffResConfig, ResolutionEncoding};
use diffres_models::checkpoint::Checkpoint;
use diffres_models::{
    psla, pydiffres, save_weights, CheckpointKind, Classifier, ClassifierConfig, ClassifierHead,
    ClassifierKind, HostTensor, ModelError,
};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("diffres-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().unwrap()
}

fn b0(channels: usize, classes: usize, head: ClassifierHead, device: &Device) -> Classifier {
    ClassifierConfig::new(ClassifierKind::EfficientNetB0, channels, classes)
        .with_head(head)
        .init(device)
        .unwrap()
}

/// Writes `tensors` and reads them back through the reader a user's file goes through.
fn round_trip(
    name: &str,
    tensors: &BTreeMap<String, HostTensor>,
    counters: &[String],
) -> Checkpoint {
    let path = temp(name);
    Checkpoint::write_safetensors(&path, tensors, counters, &BTreeMap::new()).unwrap();
    Checkpoint::read(&path).unwrap()
}

#[test]
fn a_psla_export_imports_back_to_the_same_outputs() {
    let device = Device::flex();
    device.seed(11);
    let x = Tensor::<4>::random([2, 1, 40, 64], Distribution::Normal(-4.0, 2.0), &device);
    for head in [ClassifierHead::Psla, ClassifierHead::Logits] {
        let source = b0(1, 5, head, &device);
        let (tensors, counters) = psla::export(&source).unwrap();
        // PSLA's names, PyTorch's layouts.
        assert_eq!(tensors["effnet._conv_stem.weight"].shape, vec![32, 1, 3, 3]);
        assert_eq!(tensors["attention.att.3.weight"].shape, vec![5, 1280, 1, 1]);
        assert_eq!(
            tensors["effnet._blocks.15._bn2.running_var"].shape,
            vec![320]
        );
        assert!(counters.contains(&"effnet._bn0.num_batches_tracked".to_string()));
        let ckpt = round_trip("psla.safetensors", &tensors, &counters);
        assert_eq!(ckpt.kinds(), vec![CheckpointKind::Psla]);
        assert_eq!(ckpt.dropped.len(), counters.len());
        let fresh = b0(1, 5, head, &device);
        assert_ne!(
            values(fresh.forward(x.clone())),
            values(source.forward(x.clone()))
        );
        let imported = psla::import(fresh, &ckpt).unwrap();
        assert!(
            imported.report.is_complete() && imported.report.unused.is_empty(),
            "{}",
            imported.report
        );
        assert!(imported.notes.is_empty(), "{:?}", imported.notes);
        assert_eq!(
            values(imported.module.forward(x.clone())),
            values(source.forward(x.clone())),
            "{head}"
        );
    }
}

#[test]
fn data_parallel_prefixes_and_imagenet_names_load_and_say_what_they_skip() {
    let device = Device::flex();
    let source = b0(3, 4, ClassifierHead::Logits, &device);
    let (tensors, _) = psla::export(&source).unwrap();

    // `module.` in front of every name (torch.nn.DataParallel).
    let prefixed = tensors
        .iter()
        .map(|(k, v)| (format!("module.{k}"), v.clone()))
        .collect();
    let ckpt = round_trip("module.safetensors", &prefixed, &[]);
    assert_eq!(ckpt.kinds(), vec![CheckpointKind::Psla]);
    let imported = psla::import(b0(3, 4, ClassifierHead::Logits, &device), &ckpt).unwrap();
    assert!(imported.report.is_complete(), "{}", imported.report);

    // efficientnet_pytorch's names: the backbone bare, with the ImageNet classifier.
    let mut imagenet: BTreeMap<String, HostTensor> = tensors
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("effnet.")?.to_string(), v.clone())))
        .collect();
    imagenet.insert(
        "_fc.weight".into(),
        HostTensor::new(vec![1000, 1280], vec![0.5; 1_280_000]).unwrap(),
    );
    imagenet.insert(
        "_fc.bias".into(),
        HostTensor::new(vec![1000], vec![0.0; 1000]).unwrap(),
    );
    let ckpt = round_trip("imagenet.safetensors", &imagenet, &[]);
    assert_eq!(ckpt.kinds(), vec![CheckpointKind::EfficientNet]);
    let features = |m: &Classifier, channels| {
        let x = Tensor::<4>::ones([1, channels, 32, 32], &device);
        values(m.efficientnet().unwrap().backbone().forward(x))
    };
    // A 3-channel stem (DiffRes features) loads as it is.
    let imported = psla::import(b0(3, 7, ClassifierHead::Logits, &device), &ckpt).unwrap();
    assert_eq!(features(&imported.module, 3), features(&source, 3));
    assert!(
        imported
            .report
            .missing
            .iter()
            .all(|m| m.starts_with("attention.")),
        "{}",
        imported.report
    );
    let notes = imported.notes.join(" | ");
    assert!(
        notes.contains("_fc") && notes.contains("no attention head"),
        "{notes}"
    );
    // One input channel: a fresh stem, said so; the rest of the backbone loads.
    let imported = psla::import(b0(1, 7, ClassifierHead::Logits, &device), &ckpt).unwrap();
    let notes = imported.notes.join(" | ");
    assert!(notes.contains("stem is freshly initialised"), "{notes}");
    assert_eq!(imported.report.skipped.len(), 1, "{}", imported.report);
    assert!(imported
        .report
        .applied
        .iter()
        .any(|a| a.contains("blocks.15.project_conv")));
}

#[test]
fn another_class_count_reinitialises_the_head_and_other_models_are_refused() {
    let device = Device::flex();
    let source = b0(1, 10, ClassifierHead::Psla, &device);
    let (tensors, _) = psla::export(&source).unwrap();
    let ckpt = round_trip("ten-classes.safetensors", &tensors, &[]);
    let imported = psla::import(b0(1, 3, ClassifierHead::Psla, &device), &ckpt).unwrap();
    let notes = imported.notes.join(" | ");
    assert!(
        notes.contains("10 classes") && notes.contains("re-initialised"),
        "{notes}"
    );
    // 4 heads x (att, cla) x (weight, bias) skipped; head_weight [4] still fits.
    assert_eq!(imported.report.skipped.len(), 16, "{}", imported.report);
    let x = Tensor::<4>::ones([1, 1, 32, 32], &device);
    assert_eq!(imported.module.forward(x).dims(), [1, 3]);

    for (kind, wants) in [
        (ClassifierKind::EfficientNetB2, "--model efficientnet-b0"),
        (ClassifierKind::Cnn, "need an EfficientNet classifier"),
    ] {
        let model = ClassifierConfig::new(kind, 1, 10).init(&device).unwrap();
        match psla::import(model, &ckpt) {
            Err(ModelError::Weights { path, reason }) => {
                assert!(
                    path.contains("ten-classes") && reason.contains(wants),
                    "{reason}"
                )
            }
            other => panic!("{kind}: {:?}", other.map(|i| i.report)),
        }
    }
    let cnn = ClassifierConfig::new(ClassifierKind::Cnn, 1, 3)
        .init(&device)
        .unwrap();
    assert!(psla::export(&cnn).is_err());
    assert!(ClassifierConfig::new(ClassifierKind::Cnn, 1, 3)
        .with_head(ClassifierHead::Psla)
        .init(&device)
        .is_err());
}

#[test]
fn a_pydiffres_export_imports_back_and_a_learned_encoding_is_reported() {
    let device = Device::flex();
    device.seed(5);
    let x = Tensor::<3>::random([2, 50, 64], Distribution::Normal(-5.0, 2.0), &device);
    let source = DiffResConfig::new(64)
        .with_delta(0.5)
        .init(&device)
        .unwrap();
    let (tensors, counters) = pydiffres::export(&source, 50).unwrap();
    assert_eq!(tensors["pos_emb"].shape, vec![1, 50, 64]);
    assert_eq!(tensors["model.blks.0.cnn1.weight"].shape, vec![64, 64, 5]);
    assert_eq!(tensors["model.blks.4.batch_norm2.weight"].shape, vec![1]);
    assert_eq!(counters.len(), 10);
    let ckpt = round_trip("layer.safetensors", &tensors, &counters);
    assert_eq!(ckpt.kinds(), vec![CheckpointKind::PyDiffRes]);
    let fresh = DiffResConfig::new(64)
        .with_delta(0.5)
        .init(&device)
        .unwrap();
    let imported = pydiffres::import(fresh, &ckpt).unwrap();
    assert!(
        imported.report.is_complete() && imported.notes.is_empty(),
        "{}",
        imported.report
    );
    let score = |l: &diffres::DiffRes| values(l.forward(x.clone(), None).unwrap().score.unwrap());
    assert_eq!(score(&imported.module), score(&source));

    // A learned pos_emb: loaded by a learnable encoding of as many rows, reported otherwise.
    let mut learned = tensors.clone();
    learned
        .get_mut("pos_emb")
        .unwrap()
        .data
        .iter_mut()
        .for_each(|v| *v += 0.5);
    let ckpt = round_trip("learned.safetensors", &learned, &[]);
    let imported = pydiffres::import(DiffResConfig::new(64).init(&device).unwrap(), &ckpt).unwrap();
    assert!(
        imported.notes.join(" ").contains("pos_emb was learned"),
        "{:?}",
        imported.notes
    );
    assert_eq!(imported.report.unused, vec!["pos_emb".to_string()]);
    let layer = DiffResConfig::new(64)
        .with_resolution_encoding(ResolutionEncoding::Learnable { max_frames: 50 })
        .init(&device)
        .unwrap();
    let imported = pydiffres::import(layer, &ckpt).unwrap();
    assert!(
        imported.report.applied.contains(&"positions".to_string()),
        "{}",
        imported.report
    );
    let (back, _) = pydiffres::export(&imported.module, 50).unwrap();
    assert_eq!(back["pos_emb"], learned["pos_emb"]);

    // A layer for another number of mel bins is an error naming the file.
    let err = pydiffres::import(DiffResConfig::new(128).init(&device).unwrap(), &ckpt).unwrap_err();
    assert!(
        err.to_string().contains("learned.safetensors") && err.to_string().contains("mel bins"),
        "{err}"
    );
}

#[test]
fn files_are_recognised_by_content_and_bad_ones_name_themselves() {
    let device = Device::flex();
    let ours = temp("ours.safetensors");
    save_weights(&b0(1, 3, ClassifierHead::Logits, &device), &ours).unwrap();
    assert_eq!(
        Checkpoint::read(&ours).unwrap().kinds(),
        vec![CheckpointKind::Classifier]
    );

    let junk = temp("junk.pth");
    std::fs::write(&junk, b"PK\x03\x04 not really a zip archive").unwrap();
    let err = Checkpoint::read(&junk).unwrap_err();
    assert!(
        matches!(&err, ModelError::Weights { path, reason } if path.contains("junk.pth") && reason.contains("PyTorch")),
        "{err}"
    );
    let text = temp("notes.txt");
    std::fs::write(&text, b"hello").unwrap();
    assert!(Checkpoint::read(&text)
        .unwrap_err()
        .to_string()
        .contains("notes.txt"));
    assert!(Checkpoint::read(&std::env::temp_dir())
        .unwrap_err()
        .to_string()
        .contains("not a regular file"));
    assert!(Checkpoint::read(&temp("missing.pth")).is_err());
}
