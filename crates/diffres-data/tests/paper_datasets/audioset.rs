//! AudioSet: `class_labels_indices.csv`, the three segment lists, audio named by YouTube id.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use diffres_data::{
    audioset_which_set, detect_format, load_dataset, load_eval_dataset, DataError, Dataset, Format,
    LoadOptions, Split,
};

use super::{file_name, opts, touch, write};

const CLASS_INDEX: &str = "index,mid,display_name\n\
0,/m/09x0r,\"Speech\"\n\
1,/m/05zppz,\"Male speech, man speaking\"\n\
2,/m/02zsn,\"Female speech, woman speaking\"\n\
3,/t/dd00088,\"Gush\"\n\
4,/m/04rlf,\"Music\"\n";

/// A segment list in the official format: three `#` lines, then `YTID, start, end, "labels"`.
fn segments(rows: &[(&str, &str)]) -> String {
    let mut s = String::from(
        "# Segments csv created Sun Mar  5 10:54:31 2017\n\
         # num_ytids=22160, num_segs=22160, num_unique_labels=527, num_positive_labels=52882\n\
         # YTID, start_seconds, end_seconds, positive_labels\n",
    );
    for (id, labels) in rows {
        s.push_str(&format!("{id}, 30.000, 40.000, \"{labels}\"\n"));
    }
    s
}

/// Ids of the fixture, their labels, and the file each is stored as (None: not downloaded).
const BALANCED: [(&str, &str, Option<&str>); 6] = [
    (
        "--PJHxphWEs",
        "/m/09x0r,/t/dd00088",
        Some("audio/bal/--PJHxphWEs.wav"),
    ),
    (
        "--ZhevVpy1s",
        "/m/04rlf",
        Some("audio/bal/Y--ZhevVpy1s.wav"),
    ),
    (
        "-0CamVQdP_Y",
        "/m/05zppz",
        Some("audio/bal/-0CamVQdP_Y_30000.flac"),
    ),
    (
        "abcdefghij_",
        "/m/02zsn,/m/09x0r",
        Some("abcdefghij__30.000_40.000.wav"),
    ),
    ("missing0001", "/m/09x0r", None),
    ("missing0002", "/m/04rlf", None),
];
const UNBALANCED: [(&str, &str, Option<&str>); 2] = [
    (
        "-1nilez17Dg",
        "/m/04rlf",
        Some("audio/unbal/x/-1nilez17Dg_30.000_40.000.ogg"),
    ),
    (
        "YxlGt805lY0",
        "/t/dd00088",
        Some("audio/unbal/YYxlGt805lY0.wav"),
    ),
];
const EVAL: [(&str, &str, Option<&str>); 3] = [
    (
        "--aE2O5G5WE",
        "/m/09x0r,/m/04rlf",
        Some("eval/Y--aE2O5G5WE_30.000_40.000.mp3"),
    ),
    ("Yb0RFKhbpFJ", "/m/02zsn", Some("eval/Yb0RFKhbpFJ.WAV")),
    ("missingEval", "/m/09x0r", None),
];

pub(crate) fn audioset_fixture(root: &Path) {
    write(&root.join("class_labels_indices.csv"), CLASS_INDEX);
    for (file, rows) in [
        ("balanced_train_segments.csv", &BALANCED[..]),
        ("unbalanced_train_segments.csv", &UNBALANCED[..]),
        ("eval_segments.csv", &EVAL[..]),
    ] {
        let listed: Vec<(&str, &str)> = rows.iter().map(|r| (r.0, r.1)).collect();
        write(&root.join(file), &segments(&listed));
        for (_, _, audio) in rows {
            if let Some(a) = audio {
                touch(&root.join(a));
            }
        }
    }
    touch(&root.join("audio/bal/--PJHxphWEs.txt")); // not audio
    touch(&root.join("audio/unlisted_id.wav")); // an id no list names
    touch(&root.join("audio/notes.wav")); // not named by an id
    touch(&root.join("audio/zz/--ZhevVpy1s.flac")); // a second file of one id
}

/// `id -> (labels, split, file name)` of an AudioSet dataset, the id taken from the fixture.
fn audioset_clips(ds: &Dataset) -> BTreeMap<String, (Vec<usize>, Split, String)> {
    let all = BALANCED.iter().chain(&UNBALANCED).chain(&EVAL);
    let by_file: BTreeMap<&str, &str> = all
        .filter_map(|(id, _, f)| {
            f.map(|f| (Path::new(f).file_name().unwrap().to_str().unwrap(), *id))
        })
        .collect();
    ds.clips
        .iter()
        .map(|c| {
            let name = file_name(c);
            let id = by_file[name.as_str()].to_string();
            (id, (c.labels.clone(), c.split, name))
        })
        .collect()
}

#[test]
fn audioset_lists_labels_classes_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    audioset_fixture(d);
    assert_eq!(detect_format(d).unwrap(), Format::AudioSet);
    let seed = 3;
    let ds = load_dataset(d, &opts(0.5, seed)).unwrap();
    assert_eq!(ds.format, Format::AudioSet);
    assert!(ds.multi_label);
    // Index order (not alphabetical), display names with commas inside quotes.
    assert_eq!(
        ds.classes,
        vec![
            "Speech",
            "Male speech, man speaking",
            "Female speech, woman speaking",
            "Gush",
            "Music"
        ]
    );
    // 4 + 2 training clips found (2 balanced ones missing), 2 of 3 eval clips.
    assert_eq!(ds.clips.len(), 8);
    assert_eq!(ds.split_len(Split::Train) + ds.split_len(Split::Val), 6);
    assert_eq!(ds.split_len(Split::Test), 2);
    let clips = audioset_clips(&ds);
    let want: BTreeMap<String, (Vec<usize>, String)> = [
        ("--PJHxphWEs", vec![0, 3], "--PJHxphWEs.wav"),
        ("--ZhevVpy1s", vec![4], "Y--ZhevVpy1s.wav"),
        ("-0CamVQdP_Y", vec![1], "-0CamVQdP_Y_30000.flac"),
        ("abcdefghij_", vec![2, 0], "abcdefghij__30.000_40.000.wav"),
        ("-1nilez17Dg", vec![4], "-1nilez17Dg_30.000_40.000.ogg"),
        ("YxlGt805lY0", vec![3], "YYxlGt805lY0.wav"),
        ("--aE2O5G5WE", vec![0, 4], "Y--aE2O5G5WE_30.000_40.000.mp3"),
        ("Yb0RFKhbpFJ", vec![2], "Yb0RFKhbpFJ.WAV"),
    ]
    .into_iter()
    .map(|(id, l, f)| (id.to_string(), (l, f.to_string())))
    .collect();
    let got: BTreeMap<String, (Vec<usize>, String)> = clips
        .iter()
        .map(|(id, (l, _, f))| (id.clone(), (l.clone(), f.clone())))
        .collect();
    assert_eq!(got, want);
    // Train lists -> train/val by the id hash, eval -> test.
    let mut val = 0;
    for (id, (_, split, _)) in &clips {
        if EVAL.iter().any(|e| e.0 == id) {
            assert_eq!(*split, Split::Test, "{id}");
        } else {
            assert_eq!(*split, audioset_which_set(id, seed, 0.5), "{id}");
            val += usize::from(*split == Split::Val);
        }
    }
    assert!((1..6).contains(&val), "{val}");
    let carved = format!("no validation list in AudioSet: held out {val} of 6 training clips (50% by a seeded hash of the YouTube id, seed 3;");
    assert!(
        ds.notes.iter().any(|n| n.starts_with(&carved)),
        "{:?}",
        ds.notes
    );
    assert!(
        ds.notes[0].contains("balanced_train_segments.csv (train): 6 segments, 4 with audio")
            && ds.notes[0].contains("eval_segments.csv (test): 3 segments, 2 with audio"),
        "{:?}",
        ds.notes
    );
    let missing = ds
        .warnings
        .iter()
        .find(|w| w.contains("no audio file"))
        .expect("a missing-files warning");
    assert!(
        missing.starts_with("3 of 11 listed segments have no audio file below")
            && missing.contains(
                "(balanced_train_segments.csv: 2, eval_segments.csv: 1): missing0001, \
                 missing0002, missingEval"
            ),
        "{missing}"
    );
    let twice = ds
        .warnings
        .iter()
        .find(|w| w.contains("more than one audio file"))
        .expect("a duplicate-file warning");
    assert!(
        twice.starts_with("1 YouTube id has more than one audio file")
            && twice
                .contains("--ZhevVpy1s (audio/bal/Y--ZhevVpy1s.wav, audio/zz/--ZhevVpy1s.flac)"),
        "{twice}"
    );
    assert_eq!(ds.warnings.len(), 2, "{:?}", ds.warnings);
    // The unbalanced list is optional.
    fs::remove_file(d.join("unbalanced_train_segments.csv")).unwrap();
    let ds = load_eval_dataset(d, &opts(0.5, seed)).unwrap();
    assert_eq!(ds.split_len(Split::Train) + ds.split_len(Split::Val), 4);
    assert_eq!(ds.split_len(Split::Test), 2);
}

/// `n` distinct YouTube-shaped ids, some starting with `-`, all containing `_`.
fn generated_ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let lead = ["-", "Y", "a", "_"][i % 4];
            format!("{lead}{i:08}_Q")
        })
        .collect()
}

/// Writes an AudioSet folder whose balanced list holds `ids` in the given order.
fn write_generated(root: &Path, ids: &[&str]) {
    write(&root.join("class_labels_indices.csv"), CLASS_INDEX);
    let rows: Vec<(&str, &str)> = ids.iter().map(|id| (*id, "/m/09x0r")).collect();
    write(&root.join("balanced_train_segments.csv"), &segments(&rows));
    write(
        &root.join("eval_segments.csv"),
        &segments(&[("zzzzzzzzzzz", "/m/04rlf")]),
    );
    for id in ids.iter().chain(&["zzzzzzzzzzz"]) {
        touch(&root.join(format!("wav/{id}.wav")));
    }
}

fn splits_by_id(ds: &Dataset) -> BTreeMap<String, Split> {
    ds.clips
        .iter()
        .map(|c| {
            (
                c.path.file_stem().unwrap().to_string_lossy().into_owned(),
                c.split,
            )
        })
        .collect()
}

#[test]
fn audioset_validation_is_a_seeded_hash_of_the_id_whatever_the_row_order() {
    let ids = generated_ids(200);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let forward = tempfile::tempdir().unwrap();
    write_generated(forward.path(), &refs);
    let mut shuffled = refs.clone();
    shuffled.reverse();
    shuffled.rotate_left(77);
    let reordered = tempfile::tempdir().unwrap();
    write_generated(reordered.path(), &shuffled);
    let half: Vec<&str> = refs.iter().copied().step_by(2).collect();
    let subset = tempfile::tempdir().unwrap();
    write_generated(subset.path(), &half);

    let o = opts(0.2, 11);
    let a = splits_by_id(&load_dataset(forward.path(), &o).unwrap());
    let b = splits_by_id(&load_dataset(reordered.path(), &o).unwrap());
    assert_eq!(
        a, b,
        "the validation ids do not depend on the order of the rows"
    );
    let c = splits_by_id(&load_dataset(subset.path(), &o).unwrap());
    for id in &half {
        assert_eq!(
            c[*id], a[*id],
            "{id}: the choice of one id depends on no other row"
        );
    }
    for id in &refs {
        assert_eq!(a[*id], audioset_which_set(id, 11, 0.2), "{id}");
    }
    let val = a.values().filter(|&&s| s == Split::Val).count();
    // Binomial(200, 0.2): mean 40, standard deviation 5.7.
    assert!((20..=60).contains(&val), "{val}");
    assert_eq!(a["zzzzzzzzzzz"], Split::Test);
    // Deterministic for a seed, different for another.
    assert_eq!(a, splits_by_id(&load_dataset(forward.path(), &o).unwrap()));
    let other = splits_by_id(&load_dataset(forward.path(), &opts(0.2, 12)).unwrap());
    assert_ne!(a, other);
}

#[test]
fn audioset_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    audioset_fixture(d);
    let list = d.join("balanced_train_segments.csv");
    // Line 5: the second data row, after three comment lines.
    write(
        &list,
        &format!(
            "{}--ZhevVpy1s, 50.000, \"/m/04rlf\"\n",
            segments(&[("--PJHxphWEs", "/m/09x0r")])
        ),
    );
    let err = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::CsvBadRow { csv, line: 5, .. } if *csv == list),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("balanced_train_segments.csv, line 5: expected 4 comma-separated fields"),
        "{msg}"
    );
    // A malformed id.
    write(&list, &segments(&[("--PJHxphWE", "/m/09x0r")]));
    let err = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("line 4: '--PJHxphWE' is not a YouTube id"),
        "{err}"
    );
    // A label id missing from the class index.
    write(&list, &segments(&[("--PJHxphWEs", "/m/09x0r,/m/zzzz")]));
    let err = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::UnknownLabel { csv, line: 4, label, index }
            if *csv == list && label == "/m/zzzz" && *index == d.join("class_labels_indices.csv")),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .contains("line 4: label '/m/zzzz' is not in the class index"));
    // An empty label list.
    write(&list, &segments(&[("--PJHxphWEs", "")]));
    let err = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(err, DataError::CsvEmptyLabel { line: 4, .. }),
        "{err:?}"
    );
    // A class index listing one index twice.
    audioset_fixture(d);
    let index = d.join("class_labels_indices.csv");
    write(&index, &CLASS_INDEX.replace("3,/t/dd00088", "2,/t/dd00088"));
    let err = load_dataset(d, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::CsvBadRow { csv, line: 5, reason } if *csv == index && reason.contains("class index 2 is listed twice")),
        "{err:?}"
    );
    // No audio at all: an error, not a warning.
    let empty = tempfile::tempdir().unwrap();
    write(&empty.path().join("class_labels_indices.csv"), CLASS_INDEX);
    write(
        &empty.path().join("eval_segments.csv"),
        &segments(&[("--PJHxphWEs", "/m/09x0r")]),
    );
    let err = load_eval_dataset(empty.path(), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(err, DataError::NoListedAudio { listed: 1, ref lists, .. } if lists == "eval_segments.csv"),
        "{err:?}"
    );
    // Without the class index it is no AudioSet folder.
    let bare = tempfile::tempdir().unwrap();
    write(&bare.path().join("eval_segments.csv"), &segments(&[]));
    write(
        &bare.path().join("balanced_train_segments.csv"),
        &segments(&[]),
    );
    assert!(detect_format(bare.path()).is_err());
    let o = LoadOptions {
        format: Format::AudioSet,
        ..LoadOptions::default()
    };
    let err = load_dataset(bare.path(), &o).unwrap_err();
    assert!(
        err.to_string()
            .contains("class_labels_indices.csv not found"),
        "{err}"
    );
}
