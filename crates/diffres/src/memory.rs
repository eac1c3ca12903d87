//! Process-wide memory settings for programs that train or benchmark the layer: keep freed
//! memory for reuse while training ([`keep_freed_memory`]), give it back when a phase ends
//! ([`release_freed_memory`]).

/// Keeps freed memory in the process for reuse instead of handing it back to the OS.
///
/// Training allocates the same large buffers at every step (activations of `B x C x T` floats:
/// hundreds of MB at fine hops). glibc serves blocks above 32 MB with fresh `mmap`s and unmaps
/// them when they are freed, so every step pays page faults, page zeroing and TLB shootdowns:
/// 15-25% of the layer's forward + backward time in `examples/bench_layer.rs`. This turns
/// glibc's `mmap` threshold off (it still maps when the heap cannot grow) and never trims the
/// heap, so freed blocks are reused. The price: resident memory stays at its high-water mark
/// after the work that reached it. The peak itself moves little: training DiffRes + the
/// compact CNN at 1,000 frames (`bench_train`) peaked at 428 MB against 358-365 MB with
/// glibc's defaults, at 0.45 s a step against 0.65-0.73 s (EfficientNet-B0: 1,528 against
/// 1,506 MB, 1.47 against 1.76 s). Call
/// [`release_freed_memory`] when a phase ends (the trainer's grids do, between runs) to give
/// the freed memory back.
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

/// Gives the process's freed heap memory back to the OS now (glibc's `malloc_trim`): the top
/// of every heap is cut and the free pages inside are unmapped. The counterpart of
/// [`keep_freed_memory`] for the end of a phase: a host that trains and then does something
/// else calls it to drop the training's high-water mark; the next large allocation faults
/// its pages in again, so it does not belong inside a training loop. Safe to call at any time
/// and from any thread. Returns whether memory was released: on Linux with glibc;
/// elsewhere it does nothing and returns `false`.
pub fn release_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `malloc_trim` only returns free memory; it takes any pad value.
        unsafe { libc::malloc_trim(0) == 1 }
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
