//! `keep_freed_memory` holds freed memory and `release_freed_memory` gives it back, measured
//! as this process's anonymous resident memory (its own test binary: no other test allocates
//! meanwhile). Linux with glibc only.

#![cfg(all(target_os = "linux", target_env = "gnu"))]

/// `RssAnon` of this process in MiB.
fn rss_anon_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("an RssAnon line");
    kib / 1024.0
}

#[test]
fn freed_memory_is_kept_until_released() {
    assert!(diffres::keep_freed_memory());
    let before = rss_anon_mib();
    // A training step's worth of large buffers: 8 x 32 MiB, written, then freed.
    let buffers: Vec<Vec<u8>> = (0..8).map(|i| vec![i as u8 + 1; 32 << 20]).collect();
    let sum: usize = buffers.iter().map(|b| b[b.len() - 1] as usize).sum();
    assert_eq!(sum, 36);
    let used = rss_anon_mib();
    assert!(used - before > 200.0, "{before:.0} -> {used:.0} MiB");
    drop(buffers);
    let kept = rss_anon_mib();
    assert!(
        kept - before > 200.0,
        "freed memory was returned anyway: {before:.0} -> {used:.0} -> {kept:.0} MiB"
    );
    assert!(diffres::release_freed_memory());
    let released = rss_anon_mib();
    assert!(
        released - before < 50.0,
        "not released: {before:.0} -> {kept:.0} -> {released:.0} MiB"
    );
}
