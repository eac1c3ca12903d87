//! Tests on the real sample data in `shared/data` (override the folder with `DIFFRES_DATA`).
//! They skip, printing why, when the folder is absent.

use std::path::PathBuf;

use diffres_data::{
    detect_format, load_dataset, speech_commands_which_set, Format, LoadOptions, Split,
};

fn data_root() -> PathBuf {
    std::env::var_os("DIFFRES_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
        })
}

fn dataset(name: &str) -> Option<PathBuf> {
    let p = data_root().join(name);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: real data folder {} is absent (set DIFFRES_DATA to the shared data folder)",
            p.display()
        );
        None
    }
}

#[test]
fn real_speech_commands_sample() {
    let Some(root) = dataset("speech_commands_v0.01_sample") else {
        return;
    };
    assert_eq!(detect_format(&root).unwrap(), Format::SpeechCommands);
    let ds = load_dataset(&root, &LoadOptions::default()).unwrap();
    assert_eq!(ds.format, Format::SpeechCommands);
    assert_eq!(ds.classes.len(), 30);
    assert_eq!(ds.classes[0], "bed");
    assert_eq!(ds.classes[29], "zero");
    assert_eq!(ds.clips.len(), 300);
    // Official lists with validation and test files, no file listed twice.
    assert!(ds.notes.is_empty() && ds.warnings.is_empty(), "{ds:?}");
    assert!(ds
        .class_counts(Split::Train)
        .iter()
        .zip(ds.class_counts(Split::Val))
        .zip(ds.class_counts(Split::Test))
        .all(|((a, b), c)| a + b + c == 10));
    // split sizes from the official lists (checked in Python)
    assert_eq!(ds.split(Split::Train).len(), 205);
    assert_eq!(ds.split(Split::Val).len(), 44);
    assert_eq!(ds.split(Split::Test).len(), 51);
    // the official lists were made with the hash rule: they agree on every file
    for c in &ds.clips {
        let rel = c
            .path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        assert_eq!(speech_commands_which_set(&rel), c.split, "{rel}");
    }
}

#[test]
fn real_fsdd() {
    let Some(root) = dataset("fsdd") else {
        return;
    };
    assert_eq!(detect_format(&root).unwrap(), Format::Fsdd);
    let ds = load_dataset(&root, &LoadOptions::default()).unwrap();
    assert_eq!(ds.format, Format::Fsdd);
    assert_eq!(
        ds.classes,
        (0..10).map(|d| d.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(ds.clips.len(), 3000);
    assert!(ds.notes.is_empty() && ds.warnings.is_empty(), "{ds:?}");
    let test = ds.split(Split::Test);
    assert_eq!(test.len(), 300);
    for c in &test {
        let stem = c.path.file_stem().unwrap().to_str().unwrap();
        let idx: u32 = stem.rsplit('_').next().unwrap().parse().unwrap();
        assert!(idx < 5, "{stem}");
    }
    assert_eq!(ds.class_counts(Split::Test), vec![30; 10]);
    assert_eq!(ds.class_counts(Split::Val), vec![27; 10]);
    assert_eq!(ds.class_counts(Split::Train), vec![243; 10]);
    let again = load_dataset(&root, &LoadOptions::default()).unwrap();
    assert_eq!(ds.clips, again.clips);
}
