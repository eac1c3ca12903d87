//! AudioSet from its official metadata: `class_labels_indices.csv` (`index,mid,display_name`)
//! and the segment lists `balanced_train_segments.csv`, `unbalanced_train_segments.csv` and
//! `eval_segments.csv` (`YTID, start_seconds, end_seconds, "mid,mid,..."` after three `#`
//! comment lines). Audio files are found anywhere below the dataset folder and matched by
//! YouTube id ([`audioset_file_id`]); listed segments without a file are counted in a warning.
//!
//! Multi-label. Classes are the display names in `class_labels_indices.csv` index order (the
//! ontology order, not alphabetical), so class `i` is AudioSet's class `i`. Train = the
//! balanced (and, if present, unbalanced) list, test = the eval list, validation = a
//! `val_fraction` of the training lists chosen by a seeded hash of the YouTube id
//! ([`audioset_which_set`]): stable whatever the order of the rows, and AudioSet has no
//! validation list of its own.
//!
//! The unbalanced list has about two million rows: the lists are read line by line with one
//! reused buffer, and the audio files are indexed once, in a hash map from id to path.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::class_index::{read_class_index, repeated_names_warning, ClassIndex, IndexColumns};
use super::csv::{csv_reader, find_col, headers_of, missing_col};
use super::{dataset_name, not_a};
use crate::checks::percent;
use crate::discovery::audio_files_recursive;
use crate::error::{io_err, DataError, Result};
use crate::seeds::key_fraction;
use crate::{Clip, Dataset, Format, LoadOptions, Split};

/// The class index file.
pub(super) const CLASS_INDEX: &str = "class_labels_indices.csv";

/// The segment lists and the split of their clips, in the order they are read.
pub(super) const SEGMENT_LISTS: [(&str, Split); 3] = [
    ("balanced_train_segments.csv", Split::Train),
    ("unbalanced_train_segments.csv", Split::Train),
    ("eval_segments.csv", Split::Test),
];

/// The [`key_fraction`] stream of the validation hash.
const VAL_TAG: u64 = 0xA5D1_05E7;

/// Example ids named in the missing-files warning.
const MAX_EXAMPLES: usize = 5;

/// Whether `s` is a YouTube video id: exactly 11 characters of `A-Z`, `a-z`, `0-9`, `_` and `-`
/// (so an id may start with `-` and contain `_`).
pub fn is_youtube_id(s: &str) -> bool {
    s.len() == 11
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `s` is a number of seconds as written in file names: digits, optionally `.` and
/// more digits (`30`, `30000`, `30.000`).
fn is_seconds(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    match s.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(s),
    }
}

/// Whether `rest` (what follows the id in a file stem) is empty, `_START` or `_START_END`.
fn is_segment_suffix(rest: &str) -> bool {
    if rest.is_empty() {
        return true;
    }
    let Some(times) = rest.strip_prefix('_') else {
        return false;
    };
    match times.split_once('_') {
        Some((start, end)) => is_seconds(start) && is_seconds(end),
        None => is_seconds(times),
    }
}

/// The YouTube id an AudioSet audio file is named by, from its file stem (the name without the
/// extension), or `None` if the stem follows none of the common download conventions:
///
/// | stem | id |
/// |---|---|
/// | `--PJHxphWEs` | `--PJHxphWEs` |
/// | `Y--PJHxphWEs` (a `Y` prefix) | `--PJHxphWEs` |
/// | `--PJHxphWEs_30000`, `--PJHxphWEs_30.000_40.000` (segment times) | `--PJHxphWEs` |
/// | `Y--PJHxphWEs_30.000_40.000` | `--PJHxphWEs` |
///
/// An id is 11 characters and may itself contain `_` or start with `Y`, so the stem is read at
/// two offsets: the id as its first 11 characters, or (after a `Y`) as characters 2-12, each
/// only if what follows is empty, `_START` or `_START_END`. At most one of the two readings can
/// be valid: they differ by one character, and a valid rest starts with `_` followed by a digit.
/// The segment times are not compared with the lists (AudioSet has one segment per video).
pub fn audioset_file_id(stem: &str) -> Option<&str> {
    let read_at = |skip: usize| -> Option<&str> {
        let id = stem.get(skip..skip + 11)?;
        let rest = &stem[skip + 11..];
        (is_youtube_id(id) && is_segment_suffix(rest)).then_some(id)
    };
    read_at(0).or_else(|| {
        if stem.starts_with('Y') {
            read_at(1)
        } else {
            None
        }
    })
}

/// The split a clip of an AudioSet *training* list goes to: [`Split::Val`] if a seeded hash of
/// its YouTube id, mapped to `[0, 1)`, is below `val_fraction`, else [`Split::Train`]. The hash
/// is SplitMix64 through [`crate::derive_seed`] over `seed`, a fixed stream tag, the id's
/// length and its bytes, so the choice of one id depends on nothing else: not the order of the
/// rows, not which other rows or files exist.
pub fn audioset_which_set(ytid: &str, seed: u64, val_fraction: f64) -> Split {
    if key_fraction(seed, VAL_TAG, ytid) < val_fraction {
        Split::Val
    } else {
        Split::Train
    }
}

/// Whether `dir` looks like AudioSet: `class_labels_indices.csv` and at least one segment list.
pub(super) fn is_audioset(dir: &Path) -> bool {
    dir.join(CLASS_INDEX).is_file() && SEGMENT_LISTS.iter().any(|(f, _)| dir.join(f).is_file())
}

/// One listed segment.
struct Segment {
    /// The YouTube id (always 11 ASCII bytes).
    id: [u8; 11],
    labels: Vec<usize>,
    /// The split of its list.
    split: Split,
    /// Which of the present lists it comes from.
    list: usize,
}

impl Segment {
    fn id(&self) -> &str {
        std::str::from_utf8(&self.id).expect("YouTube ids are ASCII")
    }
}

/// Splits a segment row into its id and the text of its label list (without the quotes), after
/// checking the id, the two times and the quoting.
fn split_segment_row(row: &str) -> std::result::Result<(&str, &str), String> {
    let mut fields = row.splitn(4, ',');
    let (Some(id), Some(start), Some(end), Some(labels)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(format!(
            "expected 4 comma-separated fields (YTID, start_seconds, end_seconds, \
             \"positive_labels\"), found {}",
            row.split(',').count()
        ));
    };
    let id = id.trim();
    if !is_youtube_id(id) {
        return Err(format!(
            "'{id}' is not a YouTube id (11 characters of A-Z, a-z, 0-9, _ and -)"
        ));
    }
    let seconds = |what: &str, v: &str| -> std::result::Result<f64, String> {
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| format!("{what} '{v}' is not a number of seconds"))
    };
    let (start, end) = (start.trim(), end.trim());
    if seconds("end_seconds", end)? < seconds("start_seconds", start)? {
        return Err(format!("end_seconds {end} is before start_seconds {start}"));
    }
    let labels = labels.trim();
    let inner = match labels.strip_prefix('"') {
        Some(q) => q
            .strip_suffix('"')
            .ok_or_else(|| "the quoted label list has no closing quote".to_string())?,
        None => labels,
    };
    if inner.contains('"') {
        return Err("stray quote in the label list".into());
    }
    Ok((id, inner))
}

/// Reads one segment list line by line, appending its rows to `out`; returns the number of rows.
fn read_segments(
    list: &Path,
    split: Split,
    list_no: usize,
    classes: &ClassIndex,
    out: &mut Vec<Segment>,
) -> Result<usize> {
    let file = std::fs::File::open(list).map_err(io_err(list))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let bad = |line: u64, reason: String| DataError::CsvBadRow {
        csv: list.to_path_buf(),
        line,
        reason,
    };
    let mut buf = Vec::new();
    let mut line = 0u64;
    let mut rows = 0usize;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io_err(list))? == 0 {
            break;
        }
        line += 1;
        let text = std::str::from_utf8(&buf).map_err(|_| bad(line, "not valid UTF-8".into()))?;
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let (id, label_text) = split_segment_row(text).map_err(|reason| bad(line, reason))?;
        let mut labels = Vec::new();
        for mid in label_text
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            let c = classes
                .by_id(mid)
                .ok_or_else(|| classes.unknown(list, line, mid))?;
            if !labels.contains(&c) {
                labels.push(c);
            }
        }
        if labels.is_empty() {
            return Err(DataError::CsvEmptyLabel {
                csv: list.to_path_buf(),
                line,
            });
        }
        let mut id_bytes = [0u8; 11];
        id_bytes.copy_from_slice(id.as_bytes());
        out.push(Segment {
            id: id_bytes,
            labels,
            split,
            list: list_no,
        });
        rows += 1;
    }
    Ok(rows)
}

/// The audio files below the dataset folder, by YouTube id.
struct AudioIndex {
    by_id: HashMap<String, PathBuf>,
    /// Ids with more than one file: the files beyond the first (by path), in id order of
    /// first appearance.
    extra: Vec<(String, Vec<PathBuf>)>,
}

/// Walks `root` once and indexes every audio file whose stem names a YouTube id; the first
/// file of an id in path order wins.
fn index_audio(root: &Path) -> Result<AudioIndex> {
    let files = audio_files_recursive(root)?;
    let mut by_id: HashMap<String, PathBuf> = HashMap::with_capacity(files.len());
    let mut extra_pos: HashMap<String, usize> = HashMap::new();
    let mut extra: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for f in files {
        let Some(id) = f
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(audioset_file_id)
            .map(str::to_string)
        else {
            continue;
        };
        match by_id.entry(id) {
            Entry::Vacant(slot) => {
                slot.insert(f);
            }
            Entry::Occupied(first) => {
                let id = first.key();
                let k = *extra_pos.entry(id.clone()).or_insert_with(|| {
                    extra.push((id.clone(), Vec::new()));
                    extra.len() - 1
                });
                extra[k].1.push(f);
            }
        }
    }
    Ok(AudioIndex { by_id, extra })
}

/// `a, b, c` for the first [`MAX_EXAMPLES`] of `total` items, then `and N more`.
fn examples(shown: &[String], total: usize) -> String {
    let mut s = shown.join(", ");
    if total > shown.len() {
        s.push_str(&format!(" and {} more", total - shown.len()));
    }
    s
}

/// Load AudioSet from its metadata in `path` (see the module docs).
pub(super) fn load_audioset(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    if !path.is_dir() {
        return Err(not_a(path, "audioset", "not a directory"));
    }
    let index_path = path.join(CLASS_INDEX);
    if !index_path.is_file() {
        return Err(not_a(path, "audioset", format!("{CLASS_INDEX} not found")));
    }
    let lists: Vec<(&str, Split)> = SEGMENT_LISTS
        .iter()
        .copied()
        .filter(|(f, _)| path.join(f).is_file())
        .collect();
    if lists.is_empty() {
        return Err(not_a(
            path,
            "audioset",
            "found none of balanced_train_segments.csv, unbalanced_train_segments.csv, \
             eval_segments.csv",
        ));
    }
    let mut rdr = csv_reader(&index_path)?;
    let headers = headers_of(&mut rdr, &index_path)?;
    let col = |name: &str| {
        find_col(&headers, &[name])
            .ok_or_else(|| missing_col(&index_path, &format!("'{name}'"), &headers))
    };
    let cols = IndexColumns {
        index: col("index")?,
        id: col("mid")?,
        name: col("display_name")?,
    };
    let classes = read_class_index(rdr, &index_path, cols, "audioset")?;

    // Metadata first (errors there are found before the walk), then the audio.
    let mut segments = Vec::new();
    let mut listed = Vec::with_capacity(lists.len());
    for (k, (file, split)) in lists.iter().enumerate() {
        listed.push(read_segments(
            &path.join(file),
            *split,
            k,
            &classes,
            &mut segments,
        )?);
    }
    let audio = index_audio(path)?;

    let mut clips = Vec::with_capacity(segments.len());
    let mut missing = vec![0usize; lists.len()];
    let mut missing_shown = Vec::new();
    for seg in segments {
        let id = seg.id();
        let Some(file) = audio.by_id.get(id) else {
            missing[seg.list] += 1;
            if missing_shown.len() < MAX_EXAMPLES {
                missing_shown.push(id.to_string());
            }
            continue;
        };
        let split = match seg.split {
            Split::Train if opts.val_fraction > 0.0 => {
                audioset_which_set(id, opts.seed, opts.val_fraction)
            }
            s => s,
        };
        clips.push(Clip {
            path: file.clone(),
            labels: seg.labels,
            split,
        });
    }
    let total_listed: usize = listed.iter().sum();
    let names: Vec<&str> = lists.iter().map(|l| l.0).collect();
    if clips.is_empty() {
        return Err(DataError::NoListedAudio {
            path: path.to_path_buf(),
            listed: total_listed,
            lists: names.join(", "),
        });
    }

    let mut notes = vec![format!(
        "AudioSet lists: {}; {} classes in {CLASS_INDEX} index order",
        lists
            .iter()
            .enumerate()
            .map(|(k, (f, s))| format!(
                "{f} ({s}): {} {}, {} with audio",
                listed[k],
                if listed[k] == 1 {
                    "segment"
                } else {
                    "segments"
                },
                listed[k] - missing[k]
            ))
            .collect::<Vec<_>>()
            .join(", "),
        classes.names.len()
    )];
    let train_total = clips.iter().filter(|c| c.split != Split::Test).count();
    let val = clips.iter().filter(|c| c.split == Split::Val).count();
    // No id below the fraction (a tiny list): load_dataset's stratified carving notes its own.
    if val > 0 {
        notes.push(format!(
            "no validation list in AudioSet: held out {val} of {train_total} training clips \
             ({}% by a seeded hash of the YouTube id, seed {}; the same ids whatever the order \
             of the rows) for validation",
            percent(opts.val_fraction),
            opts.seed
        ));
    }
    let mut warnings = Vec::new();
    let total_missing: usize = missing.iter().sum();
    if total_missing > 0 {
        let per_list: Vec<String> = lists
            .iter()
            .zip(&missing)
            .filter(|(_, &m)| m > 0)
            .map(|((f, _), m)| format!("{f}: {m}"))
            .collect();
        warnings.push(format!(
            "{total_missing} of {total_listed} listed segments {} no audio file below {} and \
             {} left out ({}): {}",
            if total_missing == 1 { "has" } else { "have" },
            path.display(),
            if total_missing == 1 { "is" } else { "are" },
            per_list.join(", "),
            examples(&missing_shown, total_missing)
        ));
    }
    if !audio.extra.is_empty() {
        let shown: Vec<String> = audio
            .extra
            .iter()
            .take(MAX_EXAMPLES)
            .map(|(id, more)| {
                let first = audio.by_id[id]
                    .strip_prefix(path)
                    .unwrap_or(&audio.by_id[id]);
                let mut files = vec![first.display().to_string()];
                files.extend(
                    more.iter()
                        .map(|f| f.strip_prefix(path).unwrap_or(f).display().to_string()),
                );
                format!("{id} ({})", files.join(", "))
            })
            .collect();
        let n = audio.extra.len();
        warnings.push(format!(
            "{n} YouTube {} more than one audio file; the first by path is used: {}",
            if n == 1 { "id has" } else { "ids have" },
            examples(&shown, n)
        ));
    }
    warnings.extend(repeated_names_warning(&classes));
    Ok(Dataset {
        name: dataset_name(path),
        format: Format::AudioSet,
        classes: classes.names,
        multi_label: true,
        clips,
        notes,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_ids_of_every_naming_convention() {
        let cases = [
            ("--PJHxphWEs", Some("--PJHxphWEs")),
            ("Y--PJHxphWEs", Some("--PJHxphWEs")),
            ("--PJHxphWEs_30000", Some("--PJHxphWEs")),
            ("--PJHxphWEs_30.000_40.000", Some("--PJHxphWEs")),
            ("Y--PJHxphWEs_30.000_40.000", Some("--PJHxphWEs")),
            // ids containing `_`, ending in `_`, starting with `Y`
            ("-0CamVQdP_Y_30000", Some("-0CamVQdP_Y")),
            ("abcdefghij__30.000_40.000", Some("abcdefghij_")),
            ("Yb0RFKhbpFJ", Some("Yb0RFKhbpFJ")),
            ("YYxlGt805lY0", Some("YxlGt805lY0")),
            // not AudioSet names
            ("short", None),
            ("--PJHxphWEs_", None),
            ("--PJHxphWEs_30.", None),
            ("--PJHxphWEs_30_40_50", None),
            ("--PJHxphWEs-30", None),
            ("--PJHxph.Es", None),
            ("ééééééééééé", None),
        ];
        for (stem, want) in cases {
            assert_eq!(audioset_file_id(stem), want, "{stem}");
        }
    }

    #[test]
    fn segment_rows() {
        assert_eq!(
            split_segment_row(r#"--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/t/dd00088""#),
            Ok(("--PJHxphWEs", "/m/09x0r,/t/dd00088"))
        );
        assert_eq!(
            split_segment_row("-0CamVQdP_Y,0,10,/m/04rlf"),
            Ok(("-0CamVQdP_Y", "/m/04rlf"))
        );
        for (row, reason) in [
            ("--PJHxphWEs, 30.000, \"/m/09x0r\"", "expected 4"),
            ("abc, 0, 10, \"/m/09x0r\"", "not a YouTube id"),
            ("--PJHxphWEs, x, 10, \"/m/09x0r\"", "start_seconds 'x'"),
            ("--PJHxphWEs, 20, 10, \"/m/09x0r\"", "before start_seconds"),
            ("--PJHxphWEs, 0, 10, \"/m/09x0r", "no closing quote"),
        ] {
            let err = split_segment_row(row).unwrap_err();
            assert!(err.contains(reason), "{row}: {err}");
        }
    }
}
