//! The RIFF/WAVE pre-check: the header is parsed here, before symphonia sees the file, so that
//! a lying or absurd header is rejected without decoding or allocating anything.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::limits::{check_channels, check_sample_rate};
use super::{decode_err, io_err, DecodeOptions};
use crate::error::{AudioError, Result};

/// What the RIFF/WAVE header of a file says, read by [`read_wav_header`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct WavHeader {
    /// Format tag; for `WAVE_FORMAT_EXTENSIBLE` the tag of its sub-format GUID.
    format: u16,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    /// Declared size of the data chunk; `None` for `0xFFFF_FFFF`, which streaming writers
    /// (ffmpeg to a pipe) use for "unknown".
    data_len: Option<u64>,
    /// Offset of the first data byte.
    data_offset: u64,
    /// Size of the whole file.
    file_len: u64,
}

const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

impl WavHeader {
    /// Uncompressed formats (PCM, IEEE float, A-law, mu-law) have one frame per block, so the
    /// declared frame count is `data_len / block_align`.
    pub(super) fn is_uncompressed(&self) -> bool {
        matches!(self.format, 1 | 3 | 6 | 7)
    }

    /// Frames per channel declared by the data chunk, when the format and size make it exact.
    pub(super) fn declared_frames(&self) -> Option<u64> {
        match self.data_len {
            Some(len) if self.is_uncompressed() && self.block_align > 0 => {
                Some(len / self.block_align as u64)
            }
            _ => None,
        }
    }

    /// Whole frames of the data chunk that are actually in the file.
    pub(super) fn present_frames(&self) -> u64 {
        let bytes = self.file_len.saturating_sub(self.data_offset);
        let bytes = self.data_len.map_or(bytes, |d| d.min(bytes));
        bytes.checked_div(self.block_align as u64).unwrap_or(0)
    }

    /// Reject what symphonia would panic on, spin on, or allocate without bound for.
    pub(super) fn validate(&self, path: &Path, opts: &DecodeOptions) -> Result<()> {
        check_sample_rate(path, self.sample_rate as u64)?;
        check_channels(path, self.channels as u64)?;
        if self.is_uncompressed() && self.block_align == 0 {
            return Err(decode_err(path, "WAV fmt chunk has a block align of 0"));
        }
        if let Some(n) = self.declared_frames() {
            if n > opts.max_samples as u64 {
                return Err(AudioError::TooLong {
                    path: path.to_path_buf(),
                    declared: Some(n),
                    limit: opts.max_samples,
                    sample_rate: self.sample_rate,
                });
            }
        }
        Ok(())
    }
}

/// Read into `buf` until it is full or the file ends; the number of bytes read.
fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parse the RIFF/WAVE header of `file` up to the start of the data chunk. `Ok(None)`: not a
/// RIFF/WAVE file (left to symphonia's probe). Only chunk headers and the fmt chunk are read;
/// other chunks are skipped by seeking, so a huge chunk costs nothing. Chunks of odd size are
/// followed by one pad byte (RIFF rule, as symphonia reads them). Every step moves forward by
/// at least 8 bytes, so the loop ends at the end of the file.
pub(super) fn read_wav_header(
    path: &Path,
    file: &mut File,
    file_len: u64,
) -> Result<Option<WavHeader>> {
    let io = |e| io_err(path)(e);
    let mut riff = [0u8; 12];
    let n = read_full(file, &mut riff).map_err(io)?;
    if n < 4 || &riff[..4] != b"RIFF" {
        return Ok(None);
    }
    if n < 12 {
        return Err(decode_err(
            path,
            format!("truncated RIFF header: the file is only {file_len} bytes"),
        ));
    }
    if &riff[8..12] != b"WAVE" {
        return Ok(None);
    }
    let mut pos = 12u64;
    let mut fmt: Option<(u16, u16, u32, u16)> = None;
    loop {
        file.seek(SeekFrom::Start(pos)).map_err(io)?;
        let mut head = [0u8; 8];
        if read_full(file, &mut head).map_err(io)? < 8 {
            let missing = if fmt.is_none() { "fmt" } else { "data" };
            return Err(decode_err(
                path,
                format!(
                    "truncated WAV header: no {missing} chunk before the end of the file \
                     ({file_len} bytes)"
                ),
            ));
        }
        let len = le32(&head, 4) as u64;
        match &head[..4] {
            b"fmt " => {
                if len < 16 {
                    return Err(decode_err(
                        path,
                        format!("WAV fmt chunk is {len} bytes, at least 16 are needed"),
                    ));
                }
                let mut body = [0u8; 40];
                let want = len.min(40) as usize;
                if read_full(file, &mut body[..want]).map_err(io)? < want {
                    return Err(decode_err(
                        path,
                        "truncated WAV header: fmt chunk cut short",
                    ));
                }
                let mut format = le16(&body, 0);
                if format == WAVE_FORMAT_EXTENSIBLE && want >= 40 {
                    // The sub-format GUID starts at byte 24; its first field is the tag.
                    format = le16(&body, 24);
                }
                fmt = Some((format, le16(&body, 2), le32(&body, 4), le16(&body, 12)));
            }
            b"data" => {
                let Some((format, channels, sample_rate, block_align)) = fmt else {
                    return Err(decode_err(
                        path,
                        "WAV data chunk comes before the fmt chunk",
                    ));
                };
                return Ok(Some(WavHeader {
                    format,
                    channels,
                    sample_rate,
                    block_align,
                    data_len: (len != u32::MAX as u64).then_some(len),
                    data_offset: pos + 8,
                    file_len,
                }));
            }
            _ => {}
        }
        pos += 8 + len + (len & 1);
    }
}
