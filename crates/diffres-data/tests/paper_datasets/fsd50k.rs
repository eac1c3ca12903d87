//! FSD50K: `FSD50K.ground_truth/{vocabulary,dev,eval}.csv`, `FSD50K.{dev,eval}_audio/`.

use std::path::Path;

use diffres_data::{detect_format, load_dataset, DataError, Format, LoadOptions, Split};

use super::{file_name, touch, write};

pub(crate) fn fsd50k_fixture(root: &Path) {
    let gt = root.join("FSD50K.ground_truth");
    // Not alphabetical, to show that index order is kept.
    write(
        &gt.join("vocabulary.csv"),
        "0,Music,/m/04rlf\n\
         1,Accordion,/m/0mkg\n\
         2,Acoustic_guitar,/m/042v_gx\n\
         3,Guitar,/m/0342h\n\
         4,Accelerating_and_revving_and_vroom,/m/07q2z82\n",
    );
    write(
        &gt.join("dev.csv"),
        "fname,labels,mids,split\n\
         64760,\"Acoustic_guitar,Guitar,Music\",\"/m/042v_gx,/m/0342h,/m/04rlf\",train\n\
         16399,Accordion,/m/0mkg,train\n\
         21411,\"Accordion,Music\",\"/m/0mkg,/m/04rlf\",val\n\
         9,Accelerating_and_revving_and_vroom,/m/07q2z82,train\n",
    );
    write(
        &gt.join("eval.csv"),
        "fname,labels,mids\n\
         37199,Guitar,/m/0342h\n\
         175151,\"Accelerating_and_revving_and_vroom,Music\",\"/m/07q2z82,/m/04rlf\"\n",
    );
    for f in ["64760", "16399", "21411", "9"] {
        touch(&root.join(format!("FSD50K.dev_audio/{f}.wav")));
    }
    for f in ["37199", "175151"] {
        touch(&root.join(format!("FSD50K.eval_audio/{f}.wav")));
    }
    touch(&root.join("FSD50K.metadata/collection/collection_dev.csv"));
}

#[test]
fn fsd50k_dev_split_eval_test_and_vocabulary_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fsd50k_fixture(d);
    assert_eq!(detect_format(d).unwrap(), Format::Fsd50k);
    let ds = load_dataset(d, &LoadOptions::default()).unwrap();
    assert_eq!(ds.format, Format::Fsd50k);
    assert!(ds.multi_label);
    assert_eq!(
        ds.classes,
        vec![
            "Music",
            "Accordion",
            "Acoustic_guitar",
            "Guitar",
            "Accelerating_and_revving_and_vroom"
        ]
    );
    let got: Vec<(String, Vec<usize>, Split)> = ds
        .clips
        .iter()
        .map(|c| (file_name(c), c.labels.clone(), c.split))
        .collect();
    assert_eq!(
        got,
        vec![
            ("64760.wav".into(), vec![2, 3, 0], Split::Train),
            ("16399.wav".into(), vec![1], Split::Train),
            ("21411.wav".into(), vec![1, 0], Split::Val),
            ("9.wav".into(), vec![4], Split::Train),
            ("37199.wav".into(), vec![3], Split::Test),
            ("175151.wav".into(), vec![4, 0], Split::Test),
        ]
    );
    assert!(ds.clips[0].path.starts_with(d.join("FSD50K.dev_audio")));
    assert!(ds.clips[5].path.starts_with(d.join("FSD50K.eval_audio")));
    assert!(ds.warnings.is_empty(), "{:?}", ds.warnings);
    assert!(
        ds.notes[0].contains("5 classes in vocabulary.csv index order"),
        "{:?}",
        ds.notes
    );
}

#[test]
fn fsd50k_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fsd50k_fixture(d);
    let eval = d.join("FSD50K.ground_truth/eval.csv");
    write(
        &eval,
        "fname,labels,mids\n37199,Guitar,/m/0342h\n5,Whistle,/m/01lsmm\n",
    );
    let err = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::UnknownLabel { csv, line: 3, label, .. } if *csv == eval && label == "/m/01lsmm"),
        "{err:?}"
    );
    assert!(err.to_string().contains("vocabulary.csv"), "{err}");
    write(
        &eval,
        "fname,labels,mids\n37199,Guitar,/m/0342h\n404,Guitar,/m/0342h\n",
    );
    let err = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::MissingFile { csv, line: 3, path } if *csv == eval && path.ends_with("FSD50K.eval_audio/404.wav")),
        "{err:?}"
    );
    fsd50k_fixture(d);
    let dev = d.join("FSD50K.ground_truth/dev.csv");
    write(
        &dev,
        "fname,labels,mids,split\n64760,Guitar,/m/0342h,holdout\n",
    );
    let err = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::CsvBadSplit { csv, line: 2, value } if *csv == dev && value == "holdout"),
        "{err:?}"
    );
    write(&dev, "fname,labels,mids\n64760,Guitar,/m/0342h\n");
    let err = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::CsvMissingColumn { ref column, .. } if column == "'split'"),
        "{err:?}"
    );
}
