//! The paper's datasets from their official metadata (AudioSet, FSD50K, NSynth), each on a
//! small fixture of that exact layout generated in a temporary directory. Audio files are empty
//! placeholders: nothing is decoded here. One module per layout (`paper_datasets/*.rs`); the
//! format names and the detection order are tested here.

use diffres_data::{detect_format, Format, LoadOptions};

mod common;
use common::{touch, write};

fn opts(val_fraction: f64, seed: u64) -> LoadOptions {
    LoadOptions {
        val_fraction,
        seed,
        ..LoadOptions::default()
    }
}

/// The file name of a clip.
fn file_name(c: &diffres_data::Clip) -> String {
    c.path.file_name().unwrap().to_string_lossy().into_owned()
}

#[path = "paper_datasets/audioset.rs"]
mod audioset;
#[path = "paper_datasets/fsd50k.rs"]
mod fsd50k;
#[path = "paper_datasets/nsynth.rs"]
mod nsynth;

// ------------------------------------------------------------------------------------------
// Names and detection order

#[test]
fn paper_format_names() {
    for (f, name) in [
        (Format::AudioSet, "audioset"),
        (Format::Fsd50k, "fsd50k"),
        (Format::NSynth, "nsynth"),
    ] {
        assert!(Format::ALL.contains(&f));
        assert_eq!(f.as_str(), name);
        assert_eq!(name.parse::<Format>().unwrap(), f);
        assert_eq!(name.to_uppercase().parse::<Format>().unwrap(), f);
        assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{name}\""));
        assert_eq!(
            serde_json::from_str::<Format>(&format!("\"{name}\"")).unwrap(),
            f
        );
        // The Rust variant name, as older versions would write it, is read too.
        assert_eq!(
            serde_json::from_str::<Format>(&format!("\"{f:?}\"")).unwrap(),
            f
        );
    }
    assert_eq!("audio_set".parse::<Format>().unwrap(), Format::AudioSet);
    assert_eq!("FSD-50K".parse::<Format>().unwrap(), Format::Fsd50k);
    let err = "audio".parse::<Format>().unwrap_err().to_string();
    assert!(err.contains("audioset, fsd50k, nsynth"), "{err}");
}

#[test]
fn existing_layouts_detect_as_before() {
    // A manifest.csv folder stays CSV even with paper metadata beside it.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fsd50k::fsd50k_fixture(d);
    touch(&d.join("a.wav"));
    touch(&d.join("b.wav"));
    write(&d.join("manifest.csv"), "path,label\na.wav,x\nb.wav,y\n");
    assert_eq!(detect_format(d).unwrap(), Format::Csv);
    // A class folder named like an NSynth split, without examples.json, is still folders.
    let dir = tempfile::tempdir().unwrap();
    touch(&dir.path().join("nsynth-train/a.wav"));
    touch(&dir.path().join("other/b.wav"));
    assert_eq!(detect_format(dir.path()).unwrap(), Format::Folders);
    // ESC-50 wins over everything.
    let dir = tempfile::tempdir().unwrap();
    audioset::audioset_fixture(dir.path());
    write(
        &dir.path().join("meta/esc50.csv"),
        "filename,fold,target,category\n",
    );
    assert_eq!(detect_format(dir.path()).unwrap(), Format::Esc50);
}
