//! The honest-split rules of `load_dataset`: two classes at least, a validation split that never
//! comes from the test split, warnings for duplicate rows and files in two splits. Fixtures are
//! empty files in a temporary folder (no audio is decoded here).

use std::fs;
use std::path::{Path, PathBuf};

use diffres_data::{
    load_dataset, load_eval_dataset, stratified_split, DataError, Dataset, Format, LoadOptions,
    Split,
};

mod common;
use common::touch;

/// Writes `manifest.csv` (`path,label,split`) under `dir` and creates every file it lists.
fn manifest(dir: &Path, rows: &[(&str, &str, &str)]) -> PathBuf {
    let mut text = String::from("path,label,split\n");
    for (p, l, s) in rows {
        touch(&dir.join(p));
        text.push_str(&format!("{p},{l},{s}\n"));
    }
    let m = dir.join("manifest.csv");
    fs::write(&m, text).unwrap();
    m
}

fn seeded(seed: u64) -> LoadOptions {
    LoadOptions {
        seed,
        ..LoadOptions::default()
    }
}

fn names(ds: &Dataset, split: Split) -> Vec<String> {
    ds.split(split)
        .iter()
        .map(|c| c.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// 10 training clips of `a` and of `b` (a00..a09, b00..b09), 2 test clips of each (ta0, ta1,
/// tb0, tb1), no validation row.
fn train_test_rows() -> Vec<(String, &'static str, &'static str)> {
    let mut rows = Vec::new();
    for class in ["a", "b"] {
        for i in 0..10 {
            rows.push((format!("{class}{i:02}.wav"), class, "train"));
        }
        for i in 0..2 {
            rows.push((format!("t{class}{i}.wav"), class, "test"));
        }
    }
    rows
}

fn as_refs<'a>(rows: &'a [(String, &'a str, &'a str)]) -> Vec<(&'a str, &'a str, &'a str)> {
    rows.iter().map(|(p, l, s)| (p.as_str(), *l, *s)).collect()
}

#[test]
fn one_class_is_an_error_naming_the_path_and_the_class() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        touch(&dir.path().join(format!("dog/{i}.wav")));
    }
    let e = load_dataset(dir.path(), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(e, DataError::SingleClass { ref class, ref path } if class == "dog" && path == dir.path()),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&dir.path().display().to_string()) && msg.contains("'dog'"),
        "{msg}"
    );
    // The same for a manifest; a second class makes it load.
    let m = manifest(
        dir.path(),
        &[("x/1.wav", "cat", "train"), ("x/2.wav", "cat", "test")],
    );
    let e = load_dataset(&m, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(e, DataError::SingleClass { ref class, .. } if class == "cat"),
        "{e}"
    );
    // Evaluation data may have a single class (a subset of a run's classes).
    let ds = load_eval_dataset(&m, &LoadOptions::default()).unwrap();
    assert_eq!(ds.classes, vec!["cat"]);
    assert_eq!(ds.split_len(Split::Val), 0, "no validation split is carved");
}

#[test]
fn zero_val_fraction_is_an_error_where_a_validation_split_must_be_made() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for class in ["a", "b"] {
        for i in 0..10 {
            touch(&d.join(format!("folders/{class}/{i}.wav")));
        }
    }
    let zero = LoadOptions {
        val_fraction: 0.0,
        ..LoadOptions::default()
    };
    let e = load_dataset(&d.join("folders"), &zero).unwrap_err();
    assert!(matches!(e, DataError::ZeroValFraction { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("model selection needs a validation split")
            && msg.contains("never taken from the test split")
            && msg.contains("folders"),
        "{msg}"
    );
    // A manifest with only train and test rows needs val_fraction too.
    let rows = train_test_rows();
    let m = manifest(&d.join("csv"), &as_refs(&rows));
    let e = load_dataset(&m, &zero).unwrap_err();
    assert!(matches!(e, DataError::ZeroValFraction { .. }), "{e}");
    // A layout with its own validation split does not use val_fraction: 0 is fine there.
    let mut rows = train_test_rows();
    rows[0].2 = "val";
    let m = manifest(&d.join("csv_val"), &as_refs(&rows));
    let ds = load_dataset(&m, &zero).unwrap();
    assert_eq!(names(&ds, Split::Val), vec!["a00.wav"]);
    assert!(ds.notes.is_empty(), "{:?}", ds.notes);
}

#[test]
fn missing_validation_split_is_carved_from_training_clips_only() {
    let dir = tempfile::tempdir().unwrap();
    let rows = train_test_rows();
    let m = manifest(dir.path(), &as_refs(&rows));
    let ds = load_dataset(&m, &seeded(42)).unwrap();
    assert_eq!(ds.clips.len(), 24);
    // 10% of each class's 10 training clips = 1 per class; the test split is untouched.
    assert_eq!(ds.class_counts(Split::Val), vec![1, 1]);
    assert_eq!(ds.class_counts(Split::Train), vec![9, 9]);
    assert_eq!(
        names(&ds, Split::Test),
        vec!["ta0.wav", "ta1.wav", "tb0.wav", "tb1.wav"]
    );
    assert_eq!(
        ds.notes,
        vec![
            "no validation split in the manifest: held out 2 of 20 training clips \
             (10%, stratified, seed 42) for validation"
        ]
    );
    assert!(ds.warnings.is_empty(), "{:?}", ds.warnings);
    // Exactly the clips the public stratified split helper picks among the training rows.
    let train_rows: Vec<&(String, &str, &str)> = rows.iter().filter(|r| r.2 == "train").collect();
    let strata: Vec<usize> = train_rows.iter().map(|r| usize::from(r.1 == "b")).collect();
    let expected: Vec<String> = stratified_split(&strata, 0.1, 0.0, 42)
        .into_iter()
        .zip(&train_rows)
        .filter(|(s, _)| *s == Split::Val)
        .map(|(_, r)| r.0.clone())
        .collect();
    assert_eq!(names(&ds, Split::Val), expected);
    // Deterministic for a seed, and the seed matters.
    assert_eq!(ds, load_dataset(&m, &seeded(42)).unwrap());
    let other = load_dataset(&m, &seeded(7)).unwrap();
    assert_ne!(names(&other, Split::Val), names(&ds, Split::Val));
    assert_eq!(other.class_counts(Split::Val), vec![1, 1]);
}

#[test]
fn speech_commands_lists_without_validation_files_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for word in ["up", "down"] {
        for i in 0..10 {
            touch(&d.join(format!("{word}/s{i}_nohash_0.wav")));
        }
    }
    fs::write(d.join("testing_list.txt"), "up/s0_nohash_0.wav\n").unwrap();
    let ds = load_dataset(d, &seeded(3)).unwrap();
    assert_eq!(ds.format, Format::SpeechCommands);
    assert_eq!(names(&ds, Split::Test), vec!["s0_nohash_0.wav"]);
    // down: 10 training clips -> 1; up: 9 -> round(0.9) = 1.
    assert_eq!(ds.class_counts(Split::Val), vec![1, 1]);
    assert_eq!(ds.split_len(Split::Train), 17);
    assert!(
        ds.notes[0].starts_with("no validation split in the dataset: held out 2 of 19"),
        "{:?}",
        ds.notes
    );
}

#[test]
fn fraction_rounding_to_nothing_still_holds_out_one_clip() {
    let dir = tempfile::tempdir().unwrap();
    for (class, n) in [("a", 3), ("b", 4), ("c", 2)] {
        for i in 0..n {
            touch(&dir.path().join(format!("{class}/{i}.wav")));
        }
    }
    let o = LoadOptions {
        test_fraction: 0.0,
        seed: 5,
        ..LoadOptions::default()
    };
    let ds = load_dataset(dir.path(), &o).unwrap();
    // round(0.3), round(0.4), round(0.2) are all 0: one clip of the largest class, b.
    assert_eq!(ds.class_counts(Split::Val), vec![0, 1, 0]);
    assert_eq!(ds.class_counts(Split::Train), vec![3, 3, 2]);
    assert_eq!(
        ds.notes,
        vec![
            "no validation split in the dataset: held out 1 of 9 training clips (10% of each \
             class rounds to no clip, so one clip of the largest class 'b', seed 5) for validation",
            "no test split: results will say so",
        ]
    );
}

#[test]
fn training_split_too_small_to_spare_a_clip_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        &[
            ("a.wav", "x", "train"),
            ("b.wav", "y", "train"),
            ("c.wav", "x", "test"),
            ("d.wav", "y", "test"),
        ],
    );
    let e = load_dataset(&m, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(e, DataError::TooFewTrainingClips { train: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("manifest.csv"), "{e}");
    // No training clip at all is the same error.
    let m = manifest(
        dir.path(),
        &[("c.wav", "x", "test"), ("d.wav", "y", "test")],
    );
    let e = load_dataset(&m, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(e, DataError::TooFewTrainingClips { train: 0, .. }),
        "{e}"
    );
}

#[test]
fn duplicate_rows_and_files_in_two_splits_are_warned_with_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<(String, &str, &str)> = vec![
        ("a.wav".into(), "x", "train"),
        ("a.wav".into(), "x", "train"), // exact duplicate row
        ("e.wav".into(), "y", "train"),
        ("./e.wav".into(), "y", "val"), // the same file, spelt differently, in val
        ("v.wav".into(), "x", "val"),
        ("sub/../v.wav".into(), "x", "val"), // the same file again, same split
        ("t.wav".into(), "y", "train"),
    ];
    for i in 1..=7 {
        rows.push((format!("f{i}.wav"), "x", "train"));
        rows.push((format!("f{i}.wav"), "x", "test"));
    }
    fs::create_dir_all(dir.path().join("sub")).unwrap();
    let m = manifest(dir.path(), &as_refs(&rows));
    let ds = load_dataset(&m, &LoadOptions::default()).unwrap();
    // Every row is kept.
    assert_eq!(ds.clips.len(), rows.len());
    assert!(ds.notes.is_empty(), "{:?}", ds.notes);
    assert_eq!(
        ds.warnings,
        vec![
            "10 duplicate rows: 10 files are listed more than once: a.wav (2 rows), \
             e.wav (2 rows), v.wav (2 rows), f1.wav (2 rows), f2.wav (2 rows) and 5 more; \
             all rows are kept, so these files count more than once"
                .to_string(),
            "1 file is in both train and val: e.wav".into(),
            "7 files are in both train and test: f1.wav, f2.wav, f3.wav, f4.wav, f5.wav \
             and 2 more"
                .into(),
        ]
    );
    let s = ds.summary();
    assert!(
        s.contains("warning: 1 file is in both train and val: e.wav\n"),
        "{s}"
    );
}

#[test]
fn duplicated_files_move_to_validation_together() {
    let dir = tempfile::tempdir().unwrap();
    // Class x has two distinct training files, one listed twice; y has two. 10% rounds to none,
    // so one file of x (the first of the equally large classes) is held out, with all its rows.
    let m = manifest(
        dir.path(),
        &[
            ("x1.wav", "x", "train"),
            ("x1.wav", "x", "train"),
            ("x2.wav", "x", "train"),
            ("y1.wav", "y", "train"),
            ("y2.wav", "y", "train"),
            ("tx.wav", "x", "test"),
            ("ty.wav", "y", "test"),
        ],
    );
    for seed in 0..8 {
        let ds = load_dataset(&m, &seeded(seed)).unwrap();
        let val = names(&ds, Split::Val);
        let expected = if val[0] == "x1.wav" {
            vec!["x1.wav", "x1.wav"]
        } else {
            vec!["x2.wav"]
        };
        assert_eq!(val, expected, "seed {seed}");
        assert!(
            ds.notes[0].contains(&format!("held out {} of 5 training clips", val.len())),
            "{:?}",
            ds.notes
        );
        assert!(
            !ds.warnings.iter().any(|w| w.contains("train and val")),
            "seed {seed}: {:?}",
            ds.warnings
        );
    }
}

#[test]
fn clean_layout_has_no_warnings_and_empty_test_split_has_a_note() {
    let dir = tempfile::tempdir().unwrap();
    for class in ["a", "b"] {
        for i in 0..10 {
            touch(&dir.path().join(format!("{class}/{i}.wav")));
        }
    }
    let ds = load_dataset(dir.path(), &LoadOptions::default()).unwrap();
    assert!(ds.warnings.is_empty() && ds.notes.is_empty(), "{ds:?}");
    let o = LoadOptions {
        test_fraction: 0.0,
        ..LoadOptions::default()
    };
    let ds = load_dataset(dir.path(), &o).unwrap();
    assert_eq!(ds.split_len(Split::Test), 0);
    assert_eq!(ds.notes, vec!["no test split: results will say so"]);
    assert!(ds
        .summary()
        .ends_with("note: no test split: results will say so\n"));
}

#[test]
fn datasets_saved_without_notes_and_warnings_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let rows = train_test_rows();
    let m = manifest(dir.path(), &as_refs(&rows));
    let ds = load_dataset(&m, &LoadOptions::default()).unwrap();
    let mut json: serde_json::Value = serde_json::to_value(&ds).unwrap();
    let obj = json.as_object_mut().unwrap();
    assert!(obj.remove("notes").is_some() && obj.remove("warnings").is_some());
    let back: Dataset = serde_json::from_value(json).unwrap();
    assert_eq!(back.clips, ds.clips);
    assert!(back.notes.is_empty() && back.warnings.is_empty());
}

#[cfg(unix)]
#[test]
fn symbolic_link_loops_list_each_file_once() {
    // a/loop -> .. made `a/loop/b/...` list b's files as class a, nested until the path got
    // too long (82 clips from 2 files).
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("folders");
    for (class, n) in [("a", 6), ("b", 6)] {
        for i in 0..n {
            touch(&root.join(class).join(format!("{i}.wav")));
        }
    }
    std::os::unix::fs::symlink("..", root.join("a").join("loop")).unwrap();
    let ds = load_dataset(&root, &LoadOptions::default()).unwrap();
    assert_eq!(ds.clips.len(), 12, "{:?}", ds.clips);
    let a = ds.class_index("a").unwrap();
    assert_eq!(ds.clips.iter().filter(|c| c.label() == a).count(), 6);
    assert!(ds.warnings.is_empty(), "{:?}", ds.warnings);
    // A second path to another class's files is listed, and warned about as duplicates.
    std::os::unix::fs::symlink("../b", root.join("a").join("twin")).unwrap();
    let ds = load_dataset(&root, &LoadOptions::default()).unwrap();
    assert_eq!(ds.clips.len(), 18);
    assert!(
        ds.warnings.iter().any(|w| w.contains("6 files")),
        "{:?}",
        ds.warnings
    );
}
