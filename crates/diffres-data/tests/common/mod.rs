//! Fixture helpers shared by the dataset tests: files are written under a temporary folder,
//! with their parent folders created.
#![allow(dead_code)]

use std::fs;
use std::path::Path;

/// An empty file at `p` (audio placeholders: nothing is decoded in these tests).
pub fn touch(p: &Path) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, b"").unwrap();
}

/// A text file at `p`.
pub fn write(p: &Path, text: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}
