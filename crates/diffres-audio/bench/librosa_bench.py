"""Time librosa's log-mel on the same audio as examples/bench_logmel.rs (one thread).

Usage: python crates/diffres-audio/bench/librosa_bench.py [FSDD_DIR [SECONDS]]
Needs librosa (0.11) and soundfile. Loads the sorted FSDD clips until SECONDS (default 60) of
audio at 16 kHz are collected (resampled with soxr_hq), then times
`log(librosa.feature.melspectrogram(...) + 1e-6)` per clip and on the clips concatenated
into one signal, at hop 160 (10 ms) and 16 (1 ms),
128 HTK mels, no norm, reflect padding; prints x real time (best of several runs).
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import sys
import time
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf


def main():
    here = Path(__file__).resolve().parent
    fsdd = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "../../../../shared/data/fsdd"
    want_s = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    files = sorted(p for p in fsdd.iterdir() if p.suffix in (".flac", ".wav"))
    clips, total = [], 0
    for f in files:
        if total / 16000 >= want_s:
            break
        y, sr = sf.read(f, dtype="float32")
        y = librosa.resample(y, orig_sr=sr, target_sr=16000, res_type="soxr_hq")
        clips.append(y.astype(np.float64))
        total += len(y)
    audio_s = total / 16000
    print(f"librosa {librosa.__version__}, numpy {np.__version__}: {len(clips)} clips, {audio_s:.1f} s")
    joined = np.concatenate(clips)
    for hop in (160, 16):
        for mode, inputs in (("clips", clips), ("one signal", [joined])):
            best = time_best(lambda: logmel_all(inputs, hop))
            print(f"{mode}: hop {hop / 16:g} ms: {audio_s / best:.0f}x real time (1 thread)")


def logmel_all(inputs, hop):
    for y in inputs:
        m = librosa.feature.melspectrogram(
            y=y, sr=16000, n_fft=512, win_length=400, hop_length=hop, window="hann",
            center=True, pad_mode="reflect", power=2.0, n_mels=128, fmin=0.0,
            fmax=8000.0, htk=True, norm=None,
        )
        np.log(m + 1e-6)


def time_best(run, min_total=2.0):
    run()
    best, spent, runs = float("inf"), 0.0, 0
    while runs < 3 or spent < min_total:
        t = time.perf_counter()
        run()
        dt = time.perf_counter() - t
        best, spent, runs = min(best, dt), spent + dt, runs + 1
    return best

if __name__ == "__main__":
    main()
