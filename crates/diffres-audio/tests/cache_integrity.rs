//! A damaged or unwritable feature cache: corrupt entries are recomputed and counted, decode
//! warnings survive a cache hit, and a cache that cannot be written never drops a clip or
//! leaves temporary files behind.

use std::path::{Path, PathBuf};

use diffres_audio::{AudioWarning, FeatureConfig, FeatureExtractor, CACHE_HEADER_LEN, CACHE_MAGIC};

mod common;
use common::{fixture, name_of, ramp, write, Wav};

fn copy_fixture(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(fixture(name), &p).unwrap();
    p
}

fn tmp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn damaged_cache_entries_are_recomputed_and_counted() {
    let t = tempfile::tempdir().unwrap();
    let audio = copy_fixture(t.path(), "tone_s16.flac");
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(t.path().join("c"))).unwrap();
    let good = fx.extract(&audio).unwrap();
    let entry = fx.cache_path(&audio).unwrap().unwrap();
    let original = std::fs::read(&entry).unwrap();
    let body_at = CACHE_HEADER_LEN + 4 * 100;
    let damages: Vec<(&str, Vec<u8>)> = vec![
        ("flipped body byte", {
            let mut b = original.clone();
            b[body_at] ^= 0x01;
            b
        }),
        ("flipped checksum byte", {
            let mut b = original.clone();
            b[30] ^= 0x80;
            b
        }),
        ("flipped warning count", {
            let mut b = original.clone();
            let n = b.len();
            b[n - 4] = 1;
            b
        }),
        ("flipped frame count", {
            let mut b = original.clone();
            b[12] ^= 0x02;
            b
        }),
        ("truncated", original[..original.len() - 10].to_vec()),
        ("header only", original[..CACHE_HEADER_LEN].to_vec()),
        ("too long", {
            let mut b = original.clone();
            b.extend_from_slice(&[0; 8]);
            b
        }),
    ];
    for (i, (what, bytes)) in damages.iter().enumerate() {
        std::fs::write(&entry, bytes).unwrap();
        let f = fx.extract(&audio).unwrap();
        assert_eq!(f, good, "{what}: recomputed features differ");
        assert_eq!(fx.cache_repairs(), i + 1, "{what}");
        assert_eq!(fx.cache_misses(), i + 2, "{what}");
        // Overwritten with a good entry, which the next call hits.
        assert_eq!(std::fs::read(&entry).unwrap(), original, "{what}");
        let hits = fx.cache_hits();
        assert_eq!(fx.extract(&audio).unwrap(), good);
        assert_eq!(fx.cache_hits(), hits + 1, "{what}");
    }
    // A version 1 entry (no checksum) under this key is damage too: version 1 entries have
    // their own keys (the key covers the version), so this version never reads them.
    let mut v1 = CACHE_MAGIC.to_vec();
    v1.extend_from_slice(&1u32.to_le_bytes());
    v1.extend_from_slice(&(good.spec.frames as u64).to_le_bytes());
    v1.extend_from_slice(&128u32.to_le_bytes());
    for v in &good.spec.data {
        v1.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&entry, &v1).unwrap();
    let repairs = fx.cache_repairs();
    let misses = fx.cache_misses();
    assert_eq!(fx.extract(&audio).unwrap(), good);
    assert_eq!(
        (fx.cache_repairs(), fx.cache_misses()),
        (repairs + 1, misses + 1)
    );
    assert_eq!(std::fs::read(&entry).unwrap(), original);
}

#[test]
fn cache_hits_replay_the_decode_warnings() {
    let t = tempfile::tempdir().unwrap();
    let s = ramp(1600);
    let audio = write(
        t.path(),
        "says_1s.wav",
        &Wav::pcm16(16_000, &s).declared(32_000).bytes(),
    );
    let cfg = FeatureConfig {
        frames: Some(50),
        ..FeatureConfig::default()
    };
    let fx = FeatureExtractor::new(cfg.clone(), Some(t.path().join("c"))).unwrap();
    let first = fx.extract(&audio).unwrap();
    let want = vec![AudioWarning::Truncated {
        path: audio.clone(),
        declared_frames: 16_000,
        decoded_frames: 1600,
        sample_rate: 16_000,
    }];
    assert_eq!(first.warnings, want);
    assert_eq!((first.spec.frames, first.valid_frames), (50, 11));
    let hit = fx.extract(&audio).unwrap();
    assert_eq!(fx.cache_hits(), 1);
    assert_eq!(hit, first);
    // A new extractor, and the same file under another spelling of its path: the warning
    // names the path passed this time.
    let other = t.path().join(".").join("says_1s.wav");
    let fx2 = FeatureExtractor::new(cfg, Some(t.path().join("c"))).unwrap();
    let again = fx2.extract(&other).unwrap();
    assert_eq!(fx2.cache_hits(), 1);
    assert_eq!(again.spec, first.spec);
    assert_eq!(
        again.warnings,
        vec![AudioWarning::Truncated {
            path: other.clone(),
            declared_frames: 16_000,
            decoded_frames: 1600,
            sample_rate: 16_000,
        }]
    );
    assert!(again.warnings[0]
        .to_string()
        .starts_with(&other.display().to_string()));
}

#[test]
fn a_failed_cache_write_is_a_warning_and_leaves_no_temp_file() {
    let t = tempfile::tempdir().unwrap();
    let names = ["tone_s16.wav", "tone_s16.flac", "tone.ogg", "tone.mp3"];
    let paths: Vec<PathBuf> = names.iter().map(|n| copy_fixture(t.path(), n)).collect();
    let cache = t.path().join("c");
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(cache.clone())).unwrap();
    let plain = FeatureExtractor::new(FeatureConfig::default(), None).unwrap();
    // Block every entry with a non-empty directory of its name: the rename onto it fails,
    // even for root.
    for p in &paths {
        let entry = fx.cache_path(p).unwrap().unwrap();
        std::fs::create_dir_all(entry.join("occupied")).unwrap();
    }
    let out = fx.extract_many(&paths, None);
    for (p, r) in paths.iter().zip(&out) {
        let f = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let entry = fx.cache_path(p).unwrap().unwrap();
        match f.warnings.as_slice() {
            [AudioWarning::CacheNotWritable { path, reason }] => {
                assert_eq!(path, &entry);
                assert!(reason.contains("not cached"), "{reason}");
            }
            other => panic!("{}: {other:?}", p.display()),
        }
        assert!(f.warnings[0].to_string().contains(&name_of(&entry)));
        let want = plain.extract(p).unwrap();
        assert_eq!((&f.spec, f.valid_frames), (&want.spec, want.valid_frames));
    }
    assert_eq!(fx.cache_repairs(), 0);
    assert!(tmp_files(&cache).is_empty(), "{:?}", tmp_files(&cache));
}

#[test]
fn a_cache_dir_that_cannot_be_created_disables_the_cache() {
    let t = tempfile::tempdir().unwrap();
    let not_a_dir = write(t.path(), "cache_is_a_file", b"x");
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(not_a_dir.clone())).unwrap();
    match fx.cache_warning() {
        Some(w @ AudioWarning::CacheNotWritable { path, reason }) => {
            assert_eq!(path, &not_a_dir);
            assert!(reason.contains("caching is disabled"), "{reason}");
            assert!(w.to_string().contains("cache_is_a_file"), "{w}");
        }
        other => panic!("{other:?}"),
    }
    assert!(fx.cache_dir().is_none());
    let audio = fixture("tone_s16.wav");
    assert_eq!(fx.cache_path(&audio).unwrap(), None);
    let f = fx.extract(&audio).unwrap();
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    assert_eq!((fx.cache_hits(), fx.cache_misses()), (0, 1));
    assert_eq!(std::fs::read(&not_a_dir).unwrap(), b"x");
    // A usable directory gives no warning.
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(t.path().join("ok"))).unwrap();
    assert!(fx.cache_warning().is_none());
    assert_eq!(fx.cache_dir(), Some(t.path().join("ok").as_path()));
}

#[cfg(unix)]
#[test]
fn a_read_only_cache_dir_never_drops_a_clip() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let names = [
        "tone_u8.wav",
        "tone_s16.wav",
        "tone_s24.wav",
        "tone_f32.wav",
        "tone_s16.flac",
        "tone.ogg",
    ];
    let paths: Vec<PathBuf> = names.iter().map(|n| copy_fixture(t.path(), n)).collect();
    let cache = t.path().join("ro");
    std::fs::create_dir(&cache).unwrap();
    // One entry is written while the directory is still writable.
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(cache.clone())).unwrap();
    let cached = fx.extract(&paths[0]).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root ignores permission bits; find out whether writes really fail here.
    let probe = cache.join("probe");
    let writable = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    let out = fx.extract_many(&paths, None);
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (i, (p, r)) in paths.iter().zip(&out).enumerate() {
        let f = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(f.spec.n_mels, 128);
        if i == 0 {
            // Read from the read-only cache.
            assert_eq!(f, &cached);
        } else if writable {
            assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        } else {
            assert!(
                matches!(
                    f.warnings.as_slice(),
                    [AudioWarning::CacheNotWritable { .. }]
                ),
                "{}: {:?}",
                p.display(),
                f.warnings
            );
        }
    }
    assert_eq!(fx.cache_hits(), 1);
    if writable {
        println!("running as root: permission bits do not stop writes; checked the hit only");
    }
    assert!(tmp_files(&cache).is_empty(), "{:?}", tmp_files(&cache));
}

#[test]
fn stale_temporary_files_are_ignored() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("c");
    let audio = copy_fixture(t.path(), "tone_s16.wav");
    let fx = FeatureExtractor::new(FeatureConfig::default(), Some(cache.clone())).unwrap();
    let entry = fx.cache_path(&audio).unwrap().unwrap();
    // What a process killed between create and rename leaves behind (pid 999999, counter 0).
    let stale = cache.join(format!(".{}.999999.0.tmp", name_of(&entry)));
    std::fs::write(&stale, b"half-written").unwrap();
    let a = fx.extract(&audio).unwrap();
    assert_eq!(fx.extract(&audio).unwrap(), a);
    assert_eq!(
        (fx.cache_hits(), fx.cache_misses(), fx.cache_repairs()),
        (1, 1, 0)
    );
    assert_eq!(std::fs::read(&stale).unwrap(), b"half-written");
    assert_eq!(tmp_files(&cache).len(), 1);
}
