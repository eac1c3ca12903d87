//! A process-wide memory setting for programs that train or benchmark the layer.

/// Keeps freed memory in the process for reuse instead of handing it back to the OS.
///
/// Training allocates the same large buffers at every step (activations of `B x C x T` floats:
/// hundreds of MB at fine hops). glibc serves blocks above 32 MB with fresh `mmap`s and unmaps
/// them when they are freed, so every step pays page faults, page zeroing and TLB shootdowns:
/// 15-25% of the layer's forward + backward time in `examples/bench_layer.rs`. This turns
/// glibc's `mmap` threshold off (it still maps when the heap cannot grow) and never trims the
/// heap, so freed blocks are reused. The price: resident memory stays at its high-water mark.
///
/// Process-wide, so a library does not call it for you: call it once at the start of a
/// program (the `diffres` command-line tool and the benchmarks do). Returns whether it was
/// applied: on Linux with glibc; elsewhere it does nothing and returns `false`.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes allocator tunables; both values are in range.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_setting() {
        assert!(super::keep_freed_memory());
        // Allocation still works, above the old 32 MB mmap threshold included.
        let big = vec![1u8; 64 << 20];
        assert_eq!(big.iter().map(|&b| b as usize).sum::<usize>(), 64 << 20);
    }
}
