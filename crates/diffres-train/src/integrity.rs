//! Checksums of what a run writes, so that a damaged file is an error and never a silent
//! wrong answer.
//!
//! The project has one checksum scheme: **SHA-256** of the payload bytes (the feature cache
//! of `diffres-audio` uses it too). Binary files (checkpoints, optimizer states) end in a
//! 48-byte trailer:
//!
//! ```text
//! payload (a Burn burnpack, unchanged)
//! 8 bytes  magic "DRSHA256"
//! 8 bytes  payload length, u64 little endian
//! 32 bytes SHA-256 of the payload
//! ```
//!
//! A trailer rather than a header keeps the payload where Burn expects it: stripping the last
//! 48 bytes gives a plain burnpack file. JSON files that steer a resume (`state.json`) hold
//! their content under `"state"` and its SHA-256 under `"sha256"`: the digest is taken over
//! the exact text of the `"state"` value as written.

use std::path::Path;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::error::{io_err, Result, TrainError};

/// Magic bytes that open the checksum trailer.
pub const TRAILER_MAGIC: [u8; 8] = *b"DRSHA256";

/// Length of the checksum trailer in bytes.
pub const TRAILER_LEN: usize = 8 + 8 + 32;

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `payload` followed by its checksum trailer.
pub fn seal(mut payload: Vec<u8>) -> Vec<u8> {
    let digest = Sha256::digest(&payload);
    let len = payload.len() as u64;
    payload.extend_from_slice(&TRAILER_MAGIC);
    payload.extend_from_slice(&len.to_le_bytes());
    payload.extend_from_slice(&digest);
    payload
}

/// What [`unseal`] found at the end of a file.
#[derive(Debug, PartialEq, Eq)]
pub enum Unsealed<'a> {
    /// A trailer whose checksum matches: the payload.
    Verified(&'a [u8]),
    /// No trailer: a file written before checksums (run format 1), or not by this tool.
    NoTrailer(&'a [u8]),
}

/// Checks the trailer of `bytes` and returns the payload.
///
/// # Errors
/// A trailer whose length or checksum does not match the payload: the reason, for an error
/// message that names the file.
pub fn unseal(bytes: &[u8]) -> std::result::Result<Unsealed<'_>, String> {
    if bytes.len() < TRAILER_LEN || bytes[bytes.len() - TRAILER_LEN..][..8] != TRAILER_MAGIC {
        return Ok(Unsealed::NoTrailer(bytes));
    }
    let trailer = &bytes[bytes.len() - TRAILER_LEN..];
    let payload = &bytes[..bytes.len() - TRAILER_LEN];
    let len = u64::from_le_bytes(trailer[8..16].try_into().expect("8 bytes"));
    if len != payload.len() as u64 {
        return Err(format!(
            "damaged: the trailer says {len} bytes of data, the file holds {}",
            payload.len()
        ));
    }
    if Sha256::digest(payload).as_slice() != &trailer[16..] {
        return Err("damaged: its SHA-256 checksum does not match its content".into());
    }
    Ok(Unsealed::Verified(payload))
}

/// Reads a file written with [`seal`] and returns its verified payload; `allow_unsealed`
/// accepts a file without a trailer (from a run of an older format).
///
/// # Errors
/// I/O errors, a damaged file, or a missing trailer when it is required; each names the file.
pub fn read_sealed(path: &Path, allow_unsealed: bool) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let damaged = |reason: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    match unseal(&bytes).map_err(damaged)? {
        Unsealed::Verified(payload) => Ok(payload.to_vec()),
        Unsealed::NoTrailer(_) if allow_unsealed => Ok(bytes),
        Unsealed::NoTrailer(_) => Err(damaged(
            "damaged or truncated: its checksum trailer is missing".into(),
        )),
    }
}

/// A JSON document with the SHA-256 of its content.
#[derive(Serialize)]
struct SealedJson<'a> {
    sha256: String,
    state: &'a RawValue,
}

#[derive(Deserialize)]
struct SealedJsonIn<'a> {
    sha256: String,
    #[serde(borrow)]
    state: &'a RawValue,
}

/// `value` as sealed JSON text: `{"sha256": "...", "state": VALUE}`.
pub fn seal_json<T: Serialize>(value: &T) -> String {
    let state = serde_json::to_string(value).expect("plain data serialises");
    let raw = RawValue::from_string(state).expect("serde_json output is JSON");
    let doc = SealedJson {
        sha256: sha256_hex(raw.get().as_bytes()),
        state: &raw,
    };
    serde_json::to_string(&doc).expect("plain data serialises")
}

/// Parses sealed JSON written by [`seal_json`], checking the checksum; `allow_unsealed`
/// accepts plain JSON of `T` (a run of an older format).
///
/// # Errors
/// Malformed JSON or a checksum mismatch, naming the file.
pub fn read_sealed_json<T: DeserializeOwned>(path: &Path, allow_unsealed: bool) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let json_err = |source| TrainError::Json {
        path: path.to_path_buf(),
        source,
    };
    let damaged = |reason: &str| TrainError::Run {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    match serde_json::from_str::<SealedJsonIn>(&text) {
        Ok(doc) => {
            if sha256_hex(doc.state.get().as_bytes()) != doc.sha256 {
                return Err(damaged(
                    "damaged: its SHA-256 checksum does not match its content (it was edited or corrupted)",
                ));
            }
            serde_json::from_str(doc.state.get()).map_err(json_err)
        }
        Err(_) if allow_unsealed => serde_json::from_str(&text).map_err(json_err),
        Err(source) => Err(json_err(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc_is_the_standard_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sealed_bytes_round_trip_and_any_flipped_byte_is_caught() {
        let payload: Vec<u8> = (0..200u32).map(|i| (i * 7 % 251) as u8).collect();
        let sealed = seal(payload.clone());
        assert_eq!(sealed.len(), payload.len() + TRAILER_LEN);
        assert_eq!(unseal(&sealed), Ok(Unsealed::Verified(&payload[..])));
        for i in [0, 57, 199, 200, 209, 220, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 0x10;
            // A flipped magic byte makes the file look unsealed, which readers of the
            // current format reject; any other flip is a checksum or length mismatch.
            match unseal(&bad) {
                Err(_) => {}
                Ok(Unsealed::NoTrailer(_)) => assert!((200..208).contains(&i), "byte {i}"),
                Ok(Unsealed::Verified(_)) => panic!("flipped byte {i} not detected"),
            }
        }
        assert!(
            unseal(&sealed[..sealed.len() - 1]).is_ok_and(|u| matches!(u, Unsealed::NoTrailer(_)))
        );
        assert_eq!(unseal(b"short"), Ok(Unsealed::NoTrailer(&b"short"[..])));
    }

    #[test]
    fn sealed_json_round_trips_exactly_and_detects_edits() {
        let dir = std::env::temp_dir().join(format!("diffres-seal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        let value = (
            0.962_962_962_962_962_9_f64,
            1e-300_f64,
            vec![0.1_f64, 2.0 / 3.0],
        );
        std::fs::write(&path, seal_json(&value)).unwrap();
        let back: (f64, f64, Vec<f64>) = read_sealed_json(&path, false).unwrap();
        assert_eq!(back.0.to_bits(), value.0.to_bits());
        assert_eq!(back.1.to_bits(), value.1.to_bits());
        assert_eq!(back.2[1].to_bits(), value.2[1].to_bits());
        let edited = std::fs::read_to_string(&path)
            .unwrap()
            .replace("0.96", "0.97");
        std::fs::write(&path, edited).unwrap();
        let err = read_sealed_json::<(f64, f64, Vec<f64>)>(&path, false).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
        assert!(read_sealed_json::<(f64, f64, Vec<f64>)>(&path, false).is_err());
        assert!(read_sealed_json::<(f64, f64, Vec<f64>)>(&path, true).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }
}
