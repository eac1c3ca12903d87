//! Shared by the crafted-input test files: builders for RIFF/WAVE and FLAC files whose headers
//! can lie, and small file and timing helpers.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

pub fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().to_string()
}

/// Run `f` on another thread and fail (instead of hanging the suite) if it takes longer than
/// `secs`. The bugs fixed here include a decode that never ended.
pub fn within<T: Send + 'static>(
    secs: u64,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what}: did not finish within {secs} s"))
}

/// A RIFF/WAVE file builder where every header field can lie.
#[derive(Clone, Debug)]
pub struct Wav {
    /// Format tag: 1 integer PCM, 3 IEEE float, 0xFFFE `WAVE_FORMAT_EXTENSIBLE`.
    pub format: u16,
    /// Sub-format tag written into the GUID when `format` is extensible.
    pub sub_format: u16,
    pub channels: u16,
    pub sample_rate: u32,
    pub bits: u16,
    /// `None`: `channels * bits / 8`.
    pub block_align: Option<u16>,
    /// Chunks written between "WAVE" and "fmt " (odd sizes get their pad byte).
    pub before_fmt: Vec<([u8; 4], Vec<u8>)>,
    /// Chunks written between "fmt " and "data".
    pub before_data: Vec<([u8; 4], Vec<u8>)>,
    /// Size the data chunk header declares; `None`: the payload's size.
    pub data_declared: Option<u32>,
    /// Size the RIFF header declares; `None`: consistent with the declared chunk sizes.
    pub riff_declared: Option<u32>,
    /// The data bytes actually written.
    pub payload: Vec<u8>,
}

impl Wav {
    /// 16-bit mono PCM at `sr` holding `samples`.
    pub fn pcm16(sr: u32, samples: &[i16]) -> Self {
        Wav {
            format: 1,
            sub_format: 1,
            channels: 1,
            sample_rate: sr,
            bits: 16,
            block_align: None,
            before_fmt: Vec::new(),
            before_data: Vec::new(),
            data_declared: None,
            riff_declared: None,
            payload: samples.iter().flat_map(|s| s.to_le_bytes()).collect(),
        }
    }

    pub fn channels(mut self, ch: u16) -> Self {
        self.channels = ch;
        self
    }

    pub fn declared(mut self, data_len: u32) -> Self {
        self.data_declared = Some(data_len);
        self
    }

    pub fn extensible(mut self) -> Self {
        self.sub_format = self.format;
        self.format = 0xFFFE;
        self
    }

    pub fn chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
        out.extend_from_slice(id);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(0);
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let block = self
            .block_align
            .unwrap_or((self.channels as u32 * self.bits as u32 / 8) as u16);
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&self.format.to_le_bytes());
        fmt.extend_from_slice(&self.channels.to_le_bytes());
        fmt.extend_from_slice(&self.sample_rate.to_le_bytes());
        fmt.extend_from_slice(&self.sample_rate.wrapping_mul(block as u32).to_le_bytes());
        fmt.extend_from_slice(&block.to_le_bytes());
        fmt.extend_from_slice(&self.bits.to_le_bytes());
        if self.format == 0xFFFE {
            fmt.extend_from_slice(&22u16.to_le_bytes()); // cbSize
            fmt.extend_from_slice(&self.bits.to_le_bytes()); // valid bits
            fmt.extend_from_slice(&0u32.to_le_bytes()); // channel mask
            fmt.extend_from_slice(&(self.sub_format as u32).to_le_bytes());
            // The rest of KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT.
            fmt.extend_from_slice(&[
                0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
            ]);
        }
        let mut body = Vec::new();
        body.extend_from_slice(b"WAVE");
        for (id, c) in &self.before_fmt {
            Self::chunk(&mut body, id, c);
        }
        Self::chunk(&mut body, b"fmt ", &fmt);
        for (id, c) in &self.before_data {
            Self::chunk(&mut body, id, c);
        }
        let declared = self.data_declared.unwrap_or(self.payload.len() as u32);
        body.extend_from_slice(b"data");
        body.extend_from_slice(&declared.to_le_bytes());
        let riff = self
            .riff_declared
            .unwrap_or_else(|| (body.len() as u64 + declared as u64).min(u32::MAX as u64) as u32);
        body.extend_from_slice(&self.payload);
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&riff.to_le_bytes());
        out.extend_from_slice(&body);
        out
    }
}

/// `n` samples of a 16-bit ramp with known values.
pub fn ramp(n: usize) -> Vec<i16> {
    (0..n).map(|i| ((i * 37) % 2000) as i16 - 1000).collect()
}

pub fn as_f32(s: &[i16]) -> Vec<f32> {
    s.iter().map(|&v| v as f32 / 32768.0).collect()
}

pub fn crc8(bytes: &[u8]) -> u8 {
    let mut c = 0u8;
    for &b in bytes {
        c ^= b;
        for _ in 0..8 {
            c = if c & 0x80 != 0 {
                (c << 1) ^ 0x07
            } else {
                c << 1
            };
        }
    }
    c
}

pub fn crc16(bytes: &[u8]) -> u16 {
    let mut c = 0u16;
    for &b in bytes {
        c ^= (b as u16) << 8;
        for _ in 0..8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x8005
            } else {
                c << 1
            };
        }
    }
    c
}

/// A minimal 16-bit mono FLAC: STREAMINFO declaring `rate` and `total` samples, then one
/// fixed-size frame of `block` samples per value in `values`, each a CONSTANT subframe.
/// Frames take rate and sample size from STREAMINFO (codes 0), so any rate is accepted by the
/// demuxer and only our checks decide.
pub fn flac(rate: u32, total: u64, block: u16, values: &[i16]) -> Vec<u8> {
    let mut b = b"fLaC".to_vec();
    b.extend_from_slice(&[0x80, 0, 0, 34]); // last block, STREAMINFO, 34 bytes
    b.extend_from_slice(&block.to_be_bytes()); // min block size
    b.extend_from_slice(&block.to_be_bytes()); // max block size
    b.extend_from_slice(&[0; 6]); // min / max frame size: unknown
    let packed = ((rate as u64) << 44) | (15 << 36) | (total & 0xF_FFFF_FFFF);
    b.extend_from_slice(&packed.to_be_bytes()); // rate, 1 channel, 16 bits, total samples
    b.extend_from_slice(&[0; 16]); // MD5: unknown
    for (n, v) in values.iter().enumerate() {
        assert!(n < 128, "one-byte frame numbers only");
        // Sync + fixed blocking; block size in 16 bits after the header (code 7) and the
        // sample rate from STREAMINFO (code 0); mono, sample size from STREAMINFO.
        let mut f = vec![0xFF, 0xF8, 0x70, 0x00, n as u8];
        f.extend_from_slice(&(block - 1).to_be_bytes());
        f.push(crc8(&f));
        f.push(0x00); // CONSTANT subframe, no wasted bits
        f.extend_from_slice(&v.to_be_bytes());
        let crc = crc16(&f);
        f.extend_from_slice(&crc.to_be_bytes());
        b.extend_from_slice(&f);
    }
    b
}
