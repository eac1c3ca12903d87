//! NSynth: one folder per split (`nsynth-train`, `nsynth-valid`, `nsynth-test`), each with
//! `examples.json` (an object mapping `note_str` to the note's attributes) and
//! `audio/<note_str>.wav`. The task is the instrument family (`instrument_family_str`):
//! single-label, the eleven classes of [`NSYNTH_FAMILIES`].
//!
//! `examples.json` is streamed through serde_json into `(note_str, family)` pairs; the other
//! attributes of a note (pitch, velocity, qualities, ...) are skipped by the parser, never
//! held in memory.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{dataset_name, not_a};
use crate::error::{io_err, DataError, Result};
use crate::{Clip, Dataset, Format, LoadOptions, Split};

/// NSynth's instrument families, in the official `instrument_family` order (0 = `bass` ...
/// 10 = `vocal`), which is also alphabetical. Every NSynth [`Dataset`] has these eleven
/// classes, whichever splits are loaded (`synth_lead` has no clip in `nsynth-valid` or
/// `nsynth-test`), so class indices agree between datasets of different splits.
pub const NSYNTH_FAMILIES: [&str; 11] = [
    "bass",
    "brass",
    "flute",
    "guitar",
    "keyboard",
    "mallet",
    "organ",
    "reed",
    "string",
    "synth_lead",
    "vocal",
];

/// The split folders of the NSynth archives and their splits.
const SPLIT_FOLDERS: [(&str, Split); 3] = [
    ("nsynth-train", Split::Train),
    ("nsynth-valid", Split::Val),
    ("nsynth-test", Split::Test),
];

/// The metadata file of a split folder.
const EXAMPLES: &str = "examples.json";

/// Whether `dir` looks like NSynth: a split folder (`examples.json`) or the folder holding
/// `nsynth-train`, `nsynth-valid` or `nsynth-test` with their `examples.json`.
pub(super) fn is_nsynth(dir: &Path) -> bool {
    dir.join(EXAMPLES).is_file()
        || SPLIT_FOLDERS
            .iter()
            .any(|(f, _)| dir.join(f).join(EXAMPLES).is_file())
}

/// The one attribute of a note that is kept.
#[derive(Deserialize)]
struct Example {
    instrument_family_str: String,
}

/// The entries of `examples.json` as `(note_str, instrument_family_str)`, in file order.
struct Examples(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Examples {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Examples;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object mapping note_str to the note's attributes")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Examples, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((note, ex)) = map.next_entry::<String, Example>()? {
                    out.push((note, ex.instrument_family_str));
                }
                Ok(Examples(out))
            }
        }
        d.deserialize_map(EntriesVisitor)
    }
}

/// The clips of one split folder, sorted by `note_str`.
fn read_split(dir: &Path, split: Split, clips: &mut Vec<Clip>) -> Result<usize> {
    let json = dir.join(EXAMPLES);
    let file = std::fs::File::open(&json).map_err(io_err(&json))?;
    let Examples(mut entries) =
        serde_json::from_reader(std::io::BufReader::new(file)).map_err(|source| {
            DataError::Json {
                path: json.clone(),
                source,
            }
        })?;
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let bad = |entry: &str, reason: String| DataError::JsonBadEntry {
        path: json.clone(),
        entry: entry.to_string(),
        reason,
    };
    let audio = dir.join("audio");
    for (k, (note, family)) in entries.iter().enumerate() {
        if k > 0 && entries[k - 1].0 == *note {
            return Err(bad(note, "listed twice".into()));
        }
        if note.is_empty() || note.contains(['/', '\\']) || note == "." || note == ".." {
            return Err(bad(note, "the note_str is not a file name".into()));
        }
        let label = NSYNTH_FAMILIES
            .iter()
            .position(|f| f == family)
            .ok_or_else(|| {
                bad(
                    note,
                    format!(
                        "instrument_family_str '{family}' is not an NSynth instrument family \
                         (expected one of: {})",
                        NSYNTH_FAMILIES.join(", ")
                    ),
                )
            })?;
        let path = audio.join(format!("{note}.wav"));
        if !path.is_file() {
            return Err(bad(
                note,
                format!("audio file {} does not exist", path.display()),
            ));
        }
        clips.push(Clip {
            path,
            labels: vec![label],
            split,
        });
    }
    Ok(entries.len())
}

/// The split of a single split folder, from its name (`nsynth-valid` -> val).
fn split_of_folder(dir: &Path) -> Result<Split> {
    let name = dataset_name(dir);
    let short = name.strip_prefix("nsynth-").unwrap_or(&name);
    short.parse::<Split>().map_err(|_| {
        not_a(
            dir,
            "nsynth",
            format!(
                "it holds {EXAMPLES}, but its name '{name}' does not say which split it is \
                 (expected nsynth-train, nsynth-valid or nsynth-test)"
            ),
        )
    })
}

/// Load NSynth from a split folder or the folder holding the split folders (see the module
/// docs).
pub(super) fn load_nsynth(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let _ = opts; // the split is fixed by the folders
    if !path.is_dir() {
        return Err(not_a(path, "nsynth", "not a directory"));
    }
    let folders: Vec<(PathBuf, Split)> = if path.join(EXAMPLES).is_file() {
        vec![(path.to_path_buf(), split_of_folder(path)?)]
    } else {
        SPLIT_FOLDERS
            .iter()
            .map(|(f, s)| (path.join(f), *s))
            .filter(|(d, _)| d.join(EXAMPLES).is_file())
            .collect()
    };
    if folders.is_empty() {
        return Err(not_a(
            path,
            "nsynth",
            format!(
                "found no {EXAMPLES}, and no nsynth-train, nsynth-valid or nsynth-test folder \
                 holding one"
            ),
        ));
    }
    let mut clips = Vec::new();
    let mut counts = Vec::new();
    for (dir, split) in &folders {
        let n = read_split(dir, *split, &mut clips)?;
        counts.push(format!("{} ({split}): {n} notes", dataset_name(dir)));
    }
    Ok(Dataset {
        name: dataset_name(path),
        format: Format::NSynth,
        classes: NSYNTH_FAMILIES.iter().map(|f| f.to_string()).collect(),
        multi_label: false,
        clips,
        notes: vec![format!(
            "NSynth task: instrument_family_str ({} families); {}",
            NSYNTH_FAMILIES.len(),
            counts.join(", ")
        )],
        warnings: Vec::new(),
    })
}
