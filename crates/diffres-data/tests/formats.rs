//! Loader tests on small fixture trees generated in a temporary directory.

use std::fs;
use std::path::{Path, PathBuf};

use diffres_data::{
    detect_format, esc50_cross_validation, esc50_folds, load_dataset, speech_commands_percentage,
    speech_commands_which_set, split_counts, DataError, Dataset, Format, LoadOptions, Split,
};

mod common;
use common::{touch, write};

fn opts(format: Format, seed: u64) -> LoadOptions {
    LoadOptions {
        format,
        seed,
        ..LoadOptions::default()
    }
}

fn assignment(ds: &Dataset) -> Vec<(PathBuf, Split)> {
    ds.clips.iter().map(|c| (c.path.clone(), c.split)).collect()
}

// ------------------------------------------------------------------------------------------
// folders

fn folders_fixture(root: &Path) {
    for i in 0..10 {
        touch(&root.join(format!("alpha/a{i:02}.wav")));
    }
    for i in 0..20 {
        let ext = ["wav", "FLAC", "Ogg", "mp3"][i % 4];
        touch(&root.join(format!("beta/sub/b{i:02}.{ext}")));
    }
    touch(&root.join("gamma/only.wav"));
    touch(&root.join("alpha/notes.txt")); // not audio
    touch(&root.join("alpha/.hidden.wav")); // hidden
    touch(&root.join("toplevel.wav")); // ignored by the folders layout
}

#[test]
fn folders_stratified_counts_and_determinism() {
    let dir = tempfile::tempdir().unwrap();
    folders_fixture(dir.path());
    assert_eq!(detect_format(dir.path()).unwrap(), Format::Folders);
    let ds = load_dataset(dir.path(), &opts(Format::Auto, 7)).unwrap();
    assert_eq!(ds.format, Format::Folders);
    assert_eq!(ds.classes, vec!["alpha", "beta", "gamma"]);
    assert!(!ds.multi_label);
    assert_eq!(ds.clips.len(), 31);
    assert_eq!(ds.class_counts(Split::Train), vec![8, 16, 1]);
    assert_eq!(ds.class_counts(Split::Val), vec![1, 2, 0]);
    assert_eq!(ds.class_counts(Split::Test), vec![1, 2, 0]);
    assert_eq!(ds.split(Split::Val).len(), 3);
    assert_eq!(ds.class_index("beta"), Some(1));
    assert_eq!(ds.class_index("delta"), None);
    // each clip's label matches its folder
    for c in &ds.clips {
        let rel = c.path.strip_prefix(dir.path()).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        assert_eq!(ds.classes[c.label()], top);
    }
    // same seed -> same split; explicit format gives the same result
    let again = load_dataset(dir.path(), &opts(Format::Folders, 7)).unwrap();
    assert_eq!(assignment(&ds), assignment(&again));
    // another seed -> another split, same counts
    let other = load_dataset(dir.path(), &opts(Format::Folders, 8)).unwrap();
    assert_ne!(assignment(&ds), assignment(&other));
    assert_eq!(other.class_counts(Split::Val), vec![1, 2, 0]);
    let s = ds.summary();
    assert!(s.contains("3 classes") && s.contains("31 clips"), "{s}");
}

#[test]
fn folders_custom_fractions() {
    let dir = tempfile::tempdir().unwrap();
    folders_fixture(dir.path());
    let o = LoadOptions {
        val_fraction: 0.25,
        test_fraction: 0.0,
        ..LoadOptions::default()
    };
    let ds = load_dataset(dir.path(), &o).unwrap();
    // round(2.5) = 3, round(5) = 5, round(0.25) = 0
    assert_eq!(ds.class_counts(Split::Val), vec![3, 5, 0]);
    assert_eq!(ds.class_counts(Split::Test), vec![0, 0, 0]);
}

#[test]
fn folders_empty_class_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    folders_fixture(dir.path());
    fs::create_dir_all(dir.path().join("delta")).unwrap();
    touch(&dir.path().join("delta/readme.txt"));
    let err = load_dataset(dir.path(), &opts(Format::Folders, 0)).unwrap_err();
    assert!(
        matches!(err, DataError::EmptyClass { ref class, .. } if class == "delta"),
        "{err}"
    );
    assert!(err.to_string().contains("delta"));
}

#[test]
fn split_count_rules() {
    assert_eq!(split_counts(10, 0.1, 0.1), (1, 1));
    assert_eq!(split_counts(1, 0.1, 0.1), (0, 0));
    assert_eq!(split_counts(2, 0.3, 0.3), (0, 1));
    assert_eq!(split_counts(5, 0.5, 0.4), (2, 2));
    assert_eq!(split_counts(0, 0.5, 0.4), (0, 0));
    assert_eq!(split_counts(270, 0.1, 0.0), (27, 0));
}

// ------------------------------------------------------------------------------------------
// CSV

#[test]
fn csv_with_split_column_quotes_and_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in ["a/1.wav", "a/2.wav", "b/x,y.wav", "b/4.wav", "c/5.wav"] {
        touch(&d.join(f));
    }
    write(
        &d.join("list.csv"),
        "Path , Label, split\n\
         a/1.wav,dog,train\n\
         a/2.wav,dog,Validation\n\
         \"b/x,y.wav\",\"cat\",eval\n\
         b/4.wav,cat,TEST\n\
         c/5.wav,bird,training\n",
    );
    assert_eq!(detect_format(d).unwrap(), Format::Csv);
    let ds = load_dataset(d, &LoadOptions::default()).unwrap();
    assert_eq!(ds.format, Format::Csv);
    assert_eq!(ds.classes, vec!["bird", "cat", "dog"]);
    assert!(!ds.multi_label);
    let got: Vec<(String, Vec<usize>, Split)> = ds
        .clips
        .iter()
        .map(|c| {
            (
                c.path
                    .strip_prefix(d)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                c.labels.clone(),
                c.split,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("a/1.wav".into(), vec![2], Split::Train),
            ("a/2.wav".into(), vec![2], Split::Val),
            ("b/x,y.wav".into(), vec![1], Split::Val),
            ("b/4.wav".into(), vec![1], Split::Test),
            ("c/5.wav".into(), vec![0], Split::Train),
        ]
    );
    // the csv file path itself works too
    let ds2 = load_dataset(&d.join("list.csv"), &LoadOptions::default()).unwrap();
    assert_eq!(ds.clips, ds2.clips);
    assert_eq!(ds2.name, "list");
}

#[test]
fn csv_multi_label_and_stratified_split() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut text = String::from("path,labels\n");
    for i in 0..20 {
        touch(&d.join(format!("clips/{i}.flac")));
        let labels = if i < 10 { "speech;music" } else { "dog" };
        text.push_str(&format!("clips/{i}.flac,{labels}\n"));
    }
    write(&d.join("manifest.csv"), &text);
    touch(&d.join("other.csv")); // manifest.csv wins over other csv files
    let ds = load_dataset(d, &opts(Format::Auto, 3)).unwrap();
    assert!(ds.multi_label);
    assert_eq!(ds.classes, vec!["dog", "music", "speech"]);
    assert_eq!(ds.clips[0].labels, vec![2, 1]);
    assert_eq!(ds.clips[15].labels, vec![0]);
    // stratified by first label: 10 "speech" + 10 "dog" -> 1 val + 1 test each
    assert_eq!(ds.class_counts(Split::Val), vec![1, 1, 1]);
    assert_eq!(ds.class_counts(Split::Test), vec![1, 1, 1]);
    assert_eq!(ds.class_counts(Split::Train), vec![8, 8, 8]);
    let again = load_dataset(d, &opts(Format::Csv, 3)).unwrap();
    assert_eq!(assignment(&ds), assignment(&again));
}

#[test]
fn csv_label_column_with_several_labels_is_multi_label() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    touch(&d.join("1.wav"));
    touch(&d.join("2.wav"));
    write(&d.join("m.csv"), "path,label\n1.wav,x\n2.wav,x;y\n");
    let ds = load_dataset(&d.join("m.csv"), &LoadOptions::default()).unwrap();
    assert!(ds.multi_label);
    assert_eq!(ds.clips[1].labels, vec![0, 1]);
    // (a third row: with one clip per class there is no training clip to spare for validation)
    touch(&d.join("3.wav"));
    write(&d.join("m.csv"), "path,label\n1.wav,x\n2.wav,y\n3.wav,y\n");
    assert!(
        !load_dataset(&d.join("m.csv"), &LoadOptions::default())
            .unwrap()
            .multi_label
    );
}

#[test]
fn csv_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    touch(&d.join("1.wav"));
    let m = d.join("m.csv");
    let o = LoadOptions::default();

    write(&m, "file_path,label\n1.wav,x\n");
    let e = load_dataset(&m, &o).unwrap_err();
    assert!(matches!(e, DataError::CsvMissingColumn { .. }), "{e}");
    assert!(
        e.to_string().contains("'path'") && e.to_string().contains("m.csv"),
        "{e}"
    );

    write(&m, "path,category\n1.wav,x\n");
    let e = load_dataset(&m, &o).unwrap_err();
    assert!(matches!(e, DataError::CsvMissingColumn { .. }), "{e}");

    write(&m, "path,label,split\n1.wav,x,train\n1.wav,x,holdout\n");
    let e = load_dataset(&m, &o).unwrap_err();
    assert!(
        matches!(e, DataError::CsvBadSplit { line: 3, ref value, .. } if value == "holdout"),
        "{e}"
    );

    write(&m, "path,label\n1.wav,x\n1.wav,\n");
    let e = load_dataset(&m, &o).unwrap_err();
    assert!(matches!(e, DataError::CsvEmptyLabel { line: 3, .. }), "{e}");

    write(&m, "path,label\n1.wav,x\nmissing.wav,y\n");
    let e = load_dataset(&m, &o).unwrap_err();
    assert!(matches!(e, DataError::MissingFile { line: 3, .. }), "{e}");
    assert!(e.to_string().contains("missing.wav"), "{e}");

    write(&m, "path,label\n");
    let e = load_dataset(&m, &o).unwrap_err();
    assert!(matches!(e, DataError::NoClips { .. }), "{e}");

    write(&m, "path,label\n1.wav,x,extra\n");
    let e = load_dataset(&m, &o).unwrap_err();
    assert!(matches!(e, DataError::Csv { .. }), "{e}");
}

// ------------------------------------------------------------------------------------------
// ESC-50

fn esc50_fixture(root: &Path) {
    let cats = [(0, "dog"), (1, "rooster"), (2, "crackling_fire")];
    let mut meta = String::from("filename,fold,target,category,esc10,src_file,take\n");
    for fold in 1..=5 {
        for (target, cat) in cats {
            for k in 0..4 {
                let f = format!("{fold}-{target}{k}-A-{target}.wav");
                touch(&root.join("audio").join(&f));
                meta.push_str(&format!("{f},{fold},{target},{cat},False,{target}{k},A\n"));
            }
        }
    }
    write(&root.join("meta/esc50.csv"), &meta);
}

#[test]
fn esc50_folds_and_validation() {
    let dir = tempfile::tempdir().unwrap();
    esc50_fixture(dir.path());
    assert_eq!(detect_format(dir.path()).unwrap(), Format::Esc50);
    assert_eq!(esc50_folds(dir.path()).unwrap(), vec![1, 2, 3, 4, 5]);
    let o = LoadOptions {
        fold: Some(2),
        seed: 5,
        ..LoadOptions::default()
    };
    let ds = load_dataset(dir.path(), &o).unwrap();
    assert_eq!(ds.format, Format::Esc50);
    assert_eq!(ds.classes, vec!["crackling_fire", "dog", "rooster"]);
    assert_eq!(ds.clips.len(), 60);
    // fold 2 is the test set
    for c in &ds.clips {
        let name = c.path.file_name().unwrap().to_str().unwrap();
        assert_eq!(c.split == Split::Test, name.starts_with("2-"), "{name}");
    }
    assert_eq!(ds.class_counts(Split::Test), vec![4, 4, 4]);
    // 16 non-test clips per class, val = round(1.6) = 2
    assert_eq!(ds.class_counts(Split::Val), vec![2, 2, 2]);
    assert_eq!(ds.class_counts(Split::Train), vec![14, 14, 14]);
    // the metadata file itself is accepted too
    let meta = dir.path().join("meta/esc50.csv");
    assert_eq!(detect_format(&meta).unwrap(), Format::Esc50);
    let via_meta = load_dataset(&meta, &o).unwrap();
    assert_eq!(via_meta.clips, ds.clips);
    // default fold is 1
    let d1 = load_dataset(dir.path(), &LoadOptions::default()).unwrap();
    assert!(d1.split(Split::Test).iter().all(|c| c
        .path
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("1-")));
    // cross-validation: every clip is in exactly one test fold
    let cv = esc50_cross_validation(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(cv.len(), 5);
    for i in 0..60 {
        assert_eq!(
            cv.iter()
                .filter(|d| d.clips[i].split == Split::Test)
                .count(),
            1
        );
    }
    // determinism
    let again = load_dataset(dir.path(), &o).unwrap();
    assert_eq!(assignment(&ds), assignment(&again));
}

#[test]
fn esc50_errors() {
    let dir = tempfile::tempdir().unwrap();
    esc50_fixture(dir.path());
    for bad in [0, 6] {
        let o = LoadOptions {
            fold: Some(bad),
            ..LoadOptions::default()
        };
        let e = load_dataset(dir.path(), &o).unwrap_err();
        assert!(
            matches!(e, DataError::FoldOutOfRange { fold, .. } if fold == bad),
            "{e}"
        );
    }
    // A fold the metadata has is a test fold, even past 5 (a 10-fold derived set).
    let meta = fs::read_to_string(dir.path().join("meta/esc50.csv")).unwrap();
    let tenfold = meta.replace(",5,0,dog,", ",10,0,dog,");
    write(&dir.path().join("meta/esc50.csv"), &tenfold);
    let o = LoadOptions {
        fold: Some(10),
        ..LoadOptions::default()
    };
    assert_eq!(
        load_dataset(dir.path(), &o).unwrap().split_len(Split::Test),
        4
    );
    fs::remove_file(dir.path().join("audio/3-11-A-1.wav")).unwrap();
    let e = load_dataset(dir.path(), &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::MissingFile { .. }), "{e}");
    assert!(e.to_string().contains("3-11-A-1.wav"), "{e}");
}

// ------------------------------------------------------------------------------------------
// Speech Commands

#[test]
fn speech_commands_hash_matches_tensorflow() {
    // Values computed with TensorFlow's which_set formula in Python (hashlib.sha1).
    let p = speech_commands_percentage("yes/439c84f4_nohash_1.wav");
    assert!((p - 1.231841007112272).abs() < 1e-12, "{p}");
    let p = speech_commands_percentage("bed/0c40e715_nohash_0.wav");
    assert!((p - 16.395044448934826).abs() < 1e-12, "{p}");
    let p = speech_commands_percentage("no/0a7c2a8d_nohash_0.wav");
    assert!((p - 56.836387193474074).abs() < 1e-12, "{p}");
    let p = speech_commands_percentage("yes/2e2ac0ea_nohash_0.wav");
    assert!((p - 1.6260929526842605).abs() < 1e-12, "{p}");
    // the _nohash_ suffix and the folder do not matter
    assert_eq!(
        speech_commands_percentage("yes/439c84f4_nohash_0.wav"),
        speech_commands_percentage("other/439c84f4_nohash_3.wav")
    );
    assert_eq!(
        speech_commands_which_set("yes/439c84f4_nohash_1.wav"),
        Split::Val
    );
    assert_eq!(
        speech_commands_which_set("bed/0c40e715_nohash_0.wav"),
        Split::Test
    );
    assert_eq!(
        speech_commands_which_set("no/0a7c2a8d_nohash_0.wav"),
        Split::Train
    );
}

#[test]
fn speech_commands_hash_split_without_lists() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [
        ("yes/439c84f4_nohash_1.wav", Split::Val),
        ("yes/9e3779b1_nohash_0.wav", Split::Val),
        ("yes/3c6ef362_nohash_0.wav", Split::Train),
        ("no/0c40e715_nohash_0.wav", Split::Test),
        ("no/0a7c2a8d_nohash_0.wav", Split::Train),
        ("no/daa66d13_nohash_2.wav", Split::Train),
    ];
    for (f, _) in files {
        touch(&d.join(f));
    }
    touch(&d.join("_background_noise_/white_noise.wav"));
    touch(&d.join("_other_/x.wav"));
    assert_eq!(detect_format(d).unwrap(), Format::SpeechCommands);
    let ds = load_dataset(d, &LoadOptions::default()).unwrap();
    assert_eq!(ds.classes, vec!["no", "yes"]);
    assert_eq!(ds.clips.len(), 6);
    for (f, split) in files {
        let c = ds.clips.iter().find(|c| c.path == d.join(f)).unwrap();
        assert_eq!(c.split, split, "{f}");
        assert_eq!(ds.classes[c.label()], f.split('/').next().unwrap());
    }
}

#[test]
fn speech_commands_lists() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in [
        "up/a_nohash_0.wav",
        "up/b_nohash_0.wav",
        "up/c_nohash_0.wav",
        "down/d_nohash_0.wav",
    ] {
        touch(&d.join(f));
    }
    write(
        &d.join("validation_list.txt"),
        "up/b_nohash_0.wav\nleft/zz_nohash_0.wav\n",
    );
    write(&d.join("testing_list.txt"), "down/d_nohash_0.wav\n");
    let ds = load_dataset(d, &opts(Format::SpeechCommands, 0)).unwrap();
    assert_eq!(ds.classes, vec!["down", "up"]);
    let split_of = |f: &str| ds.clips.iter().find(|c| c.path == d.join(f)).unwrap().split;
    assert_eq!(split_of("up/a_nohash_0.wav"), Split::Train);
    assert_eq!(split_of("up/b_nohash_0.wav"), Split::Val);
    assert_eq!(split_of("up/c_nohash_0.wav"), Split::Train);
    assert_eq!(split_of("down/d_nohash_0.wav"), Split::Test);
    // an empty word folder is an error
    fs::create_dir_all(d.join("left")).unwrap();
    let e = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(e, DataError::EmptyClass { ref class, .. } if class == "left"),
        "{e}"
    );
}

// ------------------------------------------------------------------------------------------
// FSDD

#[test]
fn fsdd_official_split() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for digit in 0..2 {
        for spk in ["alice", "bob"] {
            for idx in 0..11 {
                let ext = if idx % 2 == 0 { "wav" } else { "flac" };
                touch(&d.join(format!("{digit}_{spk}_{idx}.{ext}")));
            }
        }
    }
    write(&d.join("README.md"), "not audio");
    assert_eq!(detect_format(d).unwrap(), Format::Fsdd);
    let ds = load_dataset(d, &opts(Format::Auto, 1)).unwrap();
    assert_eq!(ds.format, Format::Fsdd);
    assert_eq!(ds.classes, vec!["0", "1"]);
    assert_eq!(ds.clips.len(), 44);
    for c in &ds.clips {
        let stem = c.path.file_stem().unwrap().to_str().unwrap();
        let idx: u32 = stem.rsplit('_').next().unwrap().parse().unwrap();
        assert_eq!(c.split == Split::Test, idx < 5, "{stem}");
        assert_eq!(ds.classes[c.label()], &stem[..1]);
    }
    // 12 train clips per digit -> round(1.2) = 1 val clip per digit
    assert_eq!(ds.class_counts(Split::Test), vec![10, 10]);
    assert_eq!(ds.class_counts(Split::Val), vec![1, 1]);
    assert_eq!(ds.class_counts(Split::Train), vec![11, 11]);
    let again = load_dataset(d, &opts(Format::Fsdd, 1)).unwrap();
    assert_eq!(assignment(&ds), assignment(&again));

    // a stray audio file breaks the FSDD naming
    touch(&d.join("stray.wav"));
    let e = load_dataset(d, &opts(Format::Fsdd, 1)).unwrap_err();
    assert!(e.to_string().contains("stray.wav"), "{e}");
    let e = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::NotADataset { .. }), "{e}");
}

// ------------------------------------------------------------------------------------------
// general errors and names

#[test]
fn general_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = LoadOptions::default();

    let e = load_dataset(&d.join("nope"), &o).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("nope"));

    let e = load_dataset(d, &o).unwrap_err();
    assert!(matches!(e, DataError::NotADataset { .. }), "{e}");

    touch(&d.join("a.txt"));
    let e = load_dataset(&d.join("a.txt"), &o).unwrap_err();
    assert!(matches!(e, DataError::NotADataset { .. }), "{e}");

    touch(&d.join("x.csv"));
    touch(&d.join("y.csv"));
    let e = load_dataset(d, &o).unwrap_err();
    assert!(e.to_string().contains("2 top-level .csv"), "{e}");

    for (v, t) in [
        (1.0, 0.1),
        (-0.1, 0.1),
        (0.1, 1.5),
        (0.6, 0.5),
        (f64::NAN, 0.1),
    ] {
        let o = LoadOptions {
            val_fraction: v,
            test_fraction: t,
            ..LoadOptions::default()
        };
        let e = load_dataset(d, &o).unwrap_err();
        assert!(
            matches!(e, DataError::FractionOutOfRange { .. }),
            "{v} {t}: {e}"
        );
    }

    // requesting a specific format on the wrong layout
    let e = load_dataset(d, &opts(Format::Esc50, 0)).unwrap_err();
    assert!(matches!(e, DataError::NotADataset { .. }), "{e}");
}

#[test]
fn format_and_split_names() {
    for f in Format::ALL {
        assert_eq!(f.to_string().parse::<Format>().unwrap(), f);
    }
    assert_eq!(
        "speech-commands".parse::<Format>().unwrap(),
        Format::SpeechCommands
    );
    assert_eq!(
        "Speech_Commands".parse::<Format>().unwrap(),
        Format::SpeechCommands
    );
    assert_eq!("ESC-50".parse::<Format>().unwrap(), Format::Esc50);
    assert!(matches!(
        "wav".parse::<Format>(),
        Err(DataError::UnknownFormat(_))
    ));
    for s in Split::ALL {
        assert_eq!(s.to_string().parse::<Split>().unwrap(), s);
    }
    assert_eq!("validation".parse::<Split>().unwrap(), Split::Val);
    assert_eq!("valid".parse::<Split>().unwrap(), Split::Val);
    assert_eq!("eval".parse::<Split>().unwrap(), Split::Val);
    assert!("holdout".parse::<Split>().is_err());
}

#[test]
fn dataset_serde_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    folders_fixture(dir.path());
    let ds = load_dataset(dir.path(), &LoadOptions::default()).unwrap();
    let json = serde_json::to_string(&ds).unwrap();
    let back: Dataset = serde_json::from_str(&json).unwrap();
    assert_eq!(ds, back);
}
