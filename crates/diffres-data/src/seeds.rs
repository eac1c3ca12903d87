//! Seed mixing: every RNG of this crate (split shuffles, synthetic clips) is seeded through
//! [`derive_seed`], so a stream depends only on the base seed and its own identifiers.

/// SplitMix64 finaliser: a good 64-bit mixing function for deriving seeds.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derive a seed from a base seed and a list of integers (order-sensitive).
pub fn derive_seed(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix64(seed), |acc, &p| {
        mix64(acc ^ mix64(p.wrapping_add(0x51_7C_C1_B7)))
    })
}

/// A number in `[0, 1)` that depends only on `seed`, the stream `tag` and the string `key`
/// (its bytes, little-endian in 8-byte words, and its length, through [`derive_seed`]). A set
/// chosen by `key_fraction(..) < fraction` is therefore the same whatever other keys exist and
/// in whatever order they are read.
pub(crate) fn key_fraction(seed: u64, tag: u64, key: &str) -> f64 {
    let bytes = key.as_bytes();
    let mut parts = Vec::with_capacity(2 + bytes.len().div_ceil(8));
    parts.push(tag);
    parts.push(bytes.len() as u64);
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        parts.push(u64::from_le_bytes(word));
    }
    // The top 53 bits, exactly representable in an f64.
    (derive_seed(seed, &parts) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_seed_is_deterministic_and_order_sensitive() {
        assert_eq!(derive_seed(1, &[2, 3]), derive_seed(1, &[2, 3]));
        assert_ne!(derive_seed(1, &[2, 3]), derive_seed(1, &[3, 2]));
        assert_ne!(derive_seed(1, &[2, 3]), derive_seed(2, &[2, 3]));
    }

    #[test]
    fn key_fraction_depends_on_seed_tag_and_key_only() {
        let a = key_fraction(0, 1, "--PJHxphWEs");
        assert!((0.0..1.0).contains(&a));
        assert_eq!(a, key_fraction(0, 1, "--PJHxphWEs"));
        assert_ne!(a, key_fraction(1, 1, "--PJHxphWEs"));
        assert_ne!(a, key_fraction(0, 2, "--PJHxphWEs"));
        assert_ne!(a, key_fraction(0, 1, "--PJHxphWEt"));
        // A trailing zero byte is not the same key (the length is hashed too).
        assert_ne!(key_fraction(0, 1, "a"), key_fraction(0, 1, "a\0"));
        // Roughly uniform: 10% of 10 000 keys within a few standard deviations (30).
        let below = (0..10_000)
            .filter(|i| key_fraction(7, 1, &format!("id{i:09}")) < 0.1)
            .count();
        assert!((900..=1100).contains(&below), "{below}");
    }
}
