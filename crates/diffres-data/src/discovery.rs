//! Finding audio files on disk: extensions, hidden files, sorted directory listings and file
//! names, as every folder-based layout reads them.

use std::path::{Path, PathBuf};

use crate::error::{io_err, Result};

/// Audio file extensions recognised (compared case-insensitively).
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "flac", "ogg", "mp3"];

/// Whether `path` has one of the [`AUDIO_EXTENSIONS`] (case-insensitive).
pub fn is_audio_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| {
            let e = e.to_ascii_lowercase();
            AUDIO_EXTENSIONS.contains(&e.as_str())
        })
        .unwrap_or(false)
}

/// Whether `path` has the extension `ext` (case-insensitive).
pub(crate) fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// Sorted entries of a directory.
pub(crate) fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

/// The last component of `path` as a string (lossy), empty if there is none.
pub(crate) fn file_name_str(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether the file or folder name starts with `.`.
pub(crate) fn is_hidden(path: &Path) -> bool {
    file_name_str(path).starts_with('.')
}

/// Sorted subdirectories of `dir` that are not hidden (do not start with `.`).
pub(crate) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(read_dir_sorted(dir)?
        .into_iter()
        .filter(|p| p.is_dir() && !is_hidden(p))
        .collect())
}

/// Audio files directly inside `dir` (not recursive, hidden files skipped), sorted.
pub(crate) fn top_level_audio(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(read_dir_sorted(dir)?
        .into_iter()
        .filter(|p| p.is_file() && is_audio_file(p) && !is_hidden(p))
        .collect())
}

/// Audio files anywhere below `dir` (hidden files and folders skipped), sorted.
pub(crate) fn audio_files_recursive(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    // Each folder once, by its canonical path, and never a folder that contains the one the
    // walk started in: a symbolic link up the tree (`a/loop -> ..`) would otherwise list
    // other classes' files under this one, nested until paths grow too long.
    let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut visited = std::collections::HashSet::new();
    while let Some(d) = stack.pop() {
        let canonical = std::fs::canonicalize(&d).unwrap_or_else(|_| d.clone());
        let encloses_root = canonical != root && root.starts_with(&canonical);
        if encloses_root || !visited.insert(canonical) {
            continue;
        }
        for p in read_dir_sorted(&d)? {
            if is_hidden(&p) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() && is_audio_file(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether any audio file exists below `dir`.
pub(crate) fn has_audio_recursive(dir: &Path) -> bool {
    audio_files_recursive(dir)
        .map(|v| !v.is_empty())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_extensions() {
        assert!(is_audio_file(Path::new("a/b.WAV")));
        assert!(is_audio_file(Path::new("b.Flac")));
        assert!(is_audio_file(Path::new("b.ogg")));
        assert!(is_audio_file(Path::new("b.mp3")));
        assert!(!is_audio_file(Path::new("b.txt")));
        assert!(!is_audio_file(Path::new("wav")));
    }
}
