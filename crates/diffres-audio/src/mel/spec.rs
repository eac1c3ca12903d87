//! A computed spectrogram and its padding or cropping to a fixed length.

/// A spectrogram, row-major `[frames][n_mels]`.
#[derive(Clone, Debug, PartialEq)]
pub struct LogMelSpec {
    /// Number of frames (time steps).
    pub frames: usize,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Values, row-major `[frames][n_mels]`; `data.len() == frames * n_mels`.
    pub data: Vec<f32>,
}

impl LogMelSpec {
    /// The `n_mels` values of frame `i`. Panics if `i >= frames`.
    pub fn frame(&self, i: usize) -> &[f32] {
        &self.data[i * self.n_mels..(i + 1) * self.n_mels]
    }

    /// Pad (with `pad_value`) or crop (keeping the first `n` frames) to exactly `n` frames.
    ///
    /// Returns the new spectrogram and the number of valid (non-padding) frames,
    /// `min(frames, n)`. For log-mel features pass [`LogMelConfig::silence_value`]
    /// (`ln(log_floor)`), i.e. silence.
    pub fn fit_frames(&self, n: usize, pad_value: f32) -> (LogMelSpec, usize) {
        let valid = self.frames.min(n);
        let mut data = Vec::with_capacity(n * self.n_mels);
        data.extend_from_slice(&self.data[..valid * self.n_mels]);
        data.resize(n * self.n_mels, pad_value);
        (
            LogMelSpec {
                frames: n,
                n_mels: self.n_mels,
                data,
            },
            valid,
        )
    }

    /// [`fit_frames`](Self::fit_frames) in place: the same spectrogram and valid-frame count,
    /// without a second buffer (a crop truncates and shrinks the values, a pad extends them).
    /// For a dataset's features held in memory, where a copy per clip doubled the peak.
    pub fn into_fitted(mut self, n: usize, pad_value: f32) -> (LogMelSpec, usize) {
        let valid = self.frames.min(n);
        self.data.truncate(valid * self.n_mels);
        self.data.resize(n * self.n_mels, pad_value);
        self.data.shrink_to_fit();
        self.frames = n;
        (self, valid)
    }
}
