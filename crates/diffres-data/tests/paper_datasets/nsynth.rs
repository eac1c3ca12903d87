//! NSynth: `nsynth-{train,valid,test}/examples.json` + `audio/`, the instrument-family task.

use std::fs;
use std::path::Path;

use diffres_data::{
    detect_format, load_dataset, load_eval_dataset, DataError, Format, LoadOptions, Split,
    NSYNTH_FAMILIES,
};

use super::{file_name, opts, touch, write};

/// One `examples.json` entry with every attribute of the real file.
fn nsynth_entry(note: &str, family: &str) -> String {
    let family_id = NSYNTH_FAMILIES
        .iter()
        .position(|f| *f == family)
        .unwrap_or(99);
    format!(
        "\"{note}\": {{\"qualities\": [0, 1, 0, 0, 0, 0, 0, 0, 0, 0], \"pitch\": 22, \
         \"note\": 201034, \"instrument_source_str\": \"synthetic\", \"velocity\": 50, \
         \"instrument_str\": \"x\", \"instrument\": 417, \"sample_rate\": 16000, \
         \"qualities_str\": [\"dark\"], \"instrument_source\": 2, \"note_str\": \"{note}\", \
         \"instrument_family\": {family_id}, \"instrument_family_str\": \"{family}\"}}"
    )
}

fn nsynth_split(dir: &Path, notes: &[(&str, &str)]) {
    let entries: Vec<String> = notes.iter().map(|(n, f)| nsynth_entry(n, f)).collect();
    write(
        &dir.join("examples.json"),
        &format!("{{\n{}\n}}\n", entries.join(",\n")),
    );
    for (n, _) in notes {
        touch(&dir.join(format!("audio/{n}.wav")));
    }
}

fn nsynth_fixture(root: &Path) {
    nsynth_split(
        &root.join("nsynth-train"),
        &[
            ("guitar_acoustic_001-082-050", "guitar"),
            ("bass_synthetic_033-022-050", "bass"),
            ("synth_lead_synthetic_000-100-127", "synth_lead"),
            ("bass_synthetic_033-023-075", "bass"),
        ],
    );
    nsynth_split(
        &root.join("nsynth-valid"),
        &[
            ("vocal_acoustic_000-060-100", "vocal"),
            ("keyboard_electronic_001-021-127", "keyboard"),
        ],
    );
    nsynth_split(
        &root.join("nsynth-test"),
        &[
            ("reed_acoustic_011-050-025", "reed"),
            ("mallet_acoustic_062-100-127", "mallet"),
            ("bass_electronic_018-022-100", "bass"),
        ],
    );
}

#[test]
fn nsynth_split_folders_and_instrument_families() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    nsynth_fixture(d);
    assert_eq!(detect_format(d).unwrap(), Format::NSynth);
    let ds = load_dataset(d, &LoadOptions::default()).unwrap();
    assert_eq!(ds.format, Format::NSynth);
    assert!(!ds.multi_label);
    assert_eq!(ds.classes, NSYNTH_FAMILIES);
    assert_eq!(ds.classes.len(), 11);
    assert_eq!(
        (
            ds.split_len(Split::Train),
            ds.split_len(Split::Val),
            ds.split_len(Split::Test)
        ),
        (4, 2, 3)
    );
    // Sorted by note_str within a split.
    let got: Vec<(String, usize, Split)> = ds
        .clips
        .iter()
        .map(|c| (file_name(c), c.label(), c.split))
        .collect();
    assert_eq!(
        got[..4],
        [
            (
                "bass_synthetic_033-022-050.wav".to_string(),
                0,
                Split::Train
            ),
            (
                "bass_synthetic_033-023-075.wav".to_string(),
                0,
                Split::Train
            ),
            (
                "guitar_acoustic_001-082-050.wav".to_string(),
                3,
                Split::Train
            ),
            (
                "synth_lead_synthetic_000-100-127.wav".to_string(),
                9,
                Split::Train
            ),
        ]
    );
    assert_eq!(
        got[5],
        ("vocal_acoustic_000-060-100.wav".to_string(), 10, Split::Val)
    );
    assert_eq!(
        got[7],
        (
            "mallet_acoustic_062-100-127.wav".to_string(),
            5,
            Split::Test
        )
    );
    assert!(ds.clips[0].path.starts_with(d.join("nsynth-train/audio")));
    assert_eq!(ds.class_counts(Split::Test)[7], 1); // reed
    assert!(
        ds.notes[0].contains("instrument_family_str (11 families)")
            && ds.notes[0].contains("nsynth-valid (val): 2 notes"),
        "{:?}",
        ds.notes
    );
}

#[test]
fn nsynth_one_split_folder() {
    let dir = tempfile::tempdir().unwrap();
    nsynth_fixture(dir.path());
    let test = dir.path().join("nsynth-test");
    assert_eq!(detect_format(&test).unwrap(), Format::NSynth);
    let ds = load_eval_dataset(&test, &LoadOptions::default()).unwrap();
    assert_eq!(ds.name, "nsynth-test");
    assert_eq!(ds.split_len(Split::Test), 3);
    assert_eq!(ds.clips.len(), 3);
    assert_eq!(ds.classes, NSYNTH_FAMILIES);
    // Training alone: validation carved from train, no test split (both noted).
    let ds = load_dataset(&dir.path().join("nsynth-train"), &opts(0.25, 0)).unwrap();
    assert_eq!(
        (ds.split_len(Split::Train), ds.split_len(Split::Val)),
        (3, 1)
    );
    assert!(
        ds.notes
            .iter()
            .any(|n| n.starts_with("no validation split in the dataset"))
            && ds
                .notes
                .iter()
                .any(|n| n == "no test split: results will say so"),
        "{:?}",
        ds.notes
    );
}

#[test]
fn nsynth_errors_name_the_file_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    nsynth_fixture(d);
    let valid = d.join("nsynth-valid");
    let json = valid.join("examples.json");
    nsynth_split(&valid, &[("kazoo_acoustic_000-060-100", "kazoo")]);
    let err = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::JsonBadEntry { path, entry, reason }
            if *path == json && entry == "kazoo_acoustic_000-060-100" && reason.contains("'kazoo' is not an NSynth instrument family")),
        "{err:?}"
    );
    nsynth_split(&valid, &[("vocal_acoustic_000-060-100", "vocal")]);
    fs::remove_file(valid.join("audio/vocal_acoustic_000-060-100.wav")).unwrap();
    let err = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::JsonBadEntry { entry, reason, .. }
            if entry == "vocal_acoustic_000-060-100" && reason.contains("does not exist")),
        "{err:?}"
    );
    write(&json, "{\"vocal_acoustic_000-060-100\": {\"pitch\": 60}}");
    let err = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::Json { path, .. } if *path == json),
        "{err:?}"
    );
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("instrument_family_str"), "{source}");
    // A split folder whose name says no split.
    let odd = tempfile::tempdir().unwrap();
    let renamed = odd.path().join("my-notes");
    nsynth_split(&renamed, &[("bass_synthetic_033-022-050", "bass")]);
    let err = load_eval_dataset(&renamed, &LoadOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("expected nsynth-train, nsynth-valid or nsynth-test"),
        "{err}"
    );
}
