#!/usr/bin/env python3
"""The PyTorch side of diffres's benchmarks: the same architectures, shapes and JSON keys.

Subcommands (each prints one JSON object per measured case on its own line, like the Rust
examples with --json):

  classifier  the compact CNN (written as crates/diffres-models/src/cnn.rs), and
              efficientnet_pytorch B0/B2 with PSLA's attention head: forward in eval mode
              (no_grad) and a training step (forward + backward of mean(y^2), train mode).
              Rust side: cargo run --release -p diffres-models --example bench_classifier
  layer       the authors' DiffRes layer (pydiffres): forward in eval mode and forward +
              backward of feature.sum() + guide_loss, with peak memory.
              Rust side: cargo run --release -p diffres --example bench_layer -- --json
  train       end to end: front end (pydiffres DiffRes / AvgPool, or identity) + classifier,
              training clips/s (forward, cross-entropy + guide loss, backward, Adam) and
              inference seconds of audio per second (waveform -> log-mel -> label).
              Rust side: cargo run --release -p diffres-train --example bench_train -- --json
  run         a whole training run on a dataset folder (manifest.csv: path,label,split; 16-bit
              WAV): every train and val clip decoded and turned into log-mel features held
              in memory, one or more epochs (shuffled batches, cross-entropy + guide loss,
              Adam), then the validation split evaluated. For a peak-memory comparison the
              caller samples this process; Rust side (which runs it with --in-process and
              samples both sides alike): cargo run --release -p diffres-train --example
              bench_memory -- --torch PYTHON

Every case runs in a fresh child process (so its peak memory is its own) with
torch.set_num_threads(--threads, default 2); times are medians of --reps after one warm-up.

The authors' layer is not on the package registry: `layer` and `train` with DiffRes/AvgPool
need a checkout of https://github.com/haoheliu/diffres-python, given as --diffres-python PATH
or the environment variable DIFFRES_PYTHON:

  git clone https://github.com/haoheliu/diffres-python /some/where/diffres-python

Its `torch_scatter` import (a compiled extension) is served by a small stand-in built on
torch's own scatter_reduce, and its `matplotlib` import (plots only) by an empty module, when
those packages are not installed. See bench/pytorch/README.md for the virtual environment.
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import types

MODELS = ("cnn", "efficientnet-b0", "efficientnet-b2")
# PSLA's attention-head input widths: efficientnet_pytorch's head channels for B0..B7.
PSLA_MIDDIM = {"efficientnet-b0": 1280, "efficientnet-b2": 1408}


# ---------------------------------------------------------------------------------------------
# Host description, timing, memory


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "avx512f" in line.split()
    except OSError:
        pass
    return False


def peak_rss_mb():
    """Peak resident memory of this process so far (ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def measure(reps, f):
    """Median wall-clock seconds and median process CPU seconds (all threads) of `reps` calls
    of `f` after one warm-up. CPU time is the steadier figure on a busy machine."""
    f()
    wall, cpu = [], []
    for _ in range(reps):
        start, start_cpu = time.perf_counter(), time.process_time()
        f()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def host_fields(args, torch):
    return {
        "implementation": "pytorch",
        "torch": torch.__version__,
        "reps": args.reps,
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "avx512": has_avx512(),
    }


def import_torch(threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    return torch


# ---------------------------------------------------------------------------------------------
# Models


def build_classifier(name, in_channels, n_classes):
    """The compact CNN, or efficientnet_pytorch B0/B2 with PSLA's attention pooling."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class CompactCnn(nn.Module):
        """crates/diffres-models/src/cnn.rs: four conv 3x3 -> BN -> ReLU -> 2x2 average pool
        blocks, then the mean over frequency, mean and max over time, dropout, linear."""

        def __init__(self, in_channels, n_classes, width=16, dropout=0.2):
            super().__init__()
            chans = [in_channels, width, 2 * width, 4 * width, 4 * width]
            self.blocks = nn.ModuleList(
                nn.Sequential(
                    nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b)
                )
                for a, b in zip(chans[:-1], chans[1:])
            )
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(2 * 4 * width, n_classes)

        def forward(self, x):  # [B, C, t, F]
            h = x
            for block in self.blocks:
                h = F.relu(block(h))
                t, f = h.shape[2], h.shape[3]
                k = (2 if t >= 2 else 1, 2 if f >= 2 else 1)
                h = F.avg_pool2d(h, k, k)
            h = h.mean(3)  # [B, C, t']
            pooled = torch.cat([h.mean(2), h.amax(2)], 1)
            return self.head(self.dropout(pooled))

    class MHeadAttention(nn.Module):
        """PSLA's MHeadAttention (sigmoid attention, clamp, normalised over time, learnable
        head weights). cla_sigmoid=False pools logits, as diffres's default head does."""

        def __init__(self, n_in, n_out, heads=4, cla_sigmoid=False):
            super().__init__()
            self.att = nn.ModuleList(nn.Conv2d(n_in, n_out, (1, 1)) for _ in range(heads))
            self.cla = nn.ModuleList(nn.Conv2d(n_in, n_out, (1, 1)) for _ in range(heads))
            self.head_weight = nn.Parameter(torch.full((heads,), 1.0 / heads))
            self.cla_sigmoid = cla_sigmoid

        def forward(self, x):  # [B, C, t', 1]
            out = []
            for i in range(len(self.att)):
                att = torch.sigmoid(self.att[i](x))[:, :, :, 0]
                cla = self.cla[i](x)
                if self.cla_sigmoid:
                    cla = torch.sigmoid(cla)
                cla = cla[:, :, :, 0]
                att = torch.clamp(att, 1e-7, 1.0 - 1e-7)
                norm_att = att / torch.sum(att, dim=2)[:, :, None]
                out.append(torch.sum(norm_att * cla, dim=2) * self.head_weight[i])
            return torch.stack(out, dim=0).sum(dim=0)

    class EffNetAttention(nn.Module):
        """PSLA's EffNetAttention on a [B, C, t, F] input: efficientnet_pytorch's
        extract_features, the mean over frequency, 4-head attention pooling over time."""

        def __init__(self, name, in_channels, n_classes):
            super().__init__()
            from efficientnet_pytorch import EfficientNet

            self.effnet = EfficientNet.from_name(name, in_channels=in_channels)
            self.effnet._fc = nn.Identity()
            self.attention = MHeadAttention(PSLA_MIDDIM[name], n_classes)

        def forward(self, x):
            h = self.effnet.extract_features(x)  # [B, C, t', F']
            return self.attention(h.mean(3, keepdim=True))

    if name == "cnn":
        return CompactCnn(in_channels, n_classes)
    if name in PSLA_MIDDIM:
        return EffNetAttention(name, in_channels, n_classes)
    raise SystemExit(f"error: unknown model '{name}' (expected one of {', '.join(MODELS)})")


def import_pydiffres(path):
    """Imports the authors' package from a checkout, with stand-ins for its optional imports."""
    if not path:
        raise SystemExit(
            "error: the authors' DiffRes layer is needed: pass --diffres-python PATH or set "
            "DIFFRES_PYTHON to a checkout of https://github.com/haoheliu/diffres-python "
            "(git clone https://github.com/haoheliu/diffres-python)"
        )
    if not os.path.isfile(os.path.join(path, "pydiffres", "core.py")):
        raise SystemExit(f"error: {path} is not a diffres-python checkout (no pydiffres/core.py)")
    import torch

    try:
        import torch_scatter  # noqa: F401
    except ImportError:
        scatter = types.ModuleType("torch_scatter")

        def scatter_add(src, index, dim=-1, out=None):
            index = index.expand_as(src)
            if out is None:
                out = torch.zeros_like(src)
            return out.scatter_add(dim, index, src)

        def scatter_max(src, index, dim=-1, out=None):
            # torch_scatter keeps `out`'s values as the starting maxima (zeros here).
            index = index.expand_as(src)
            if out is None:
                out = torch.zeros_like(src)
            return out.scatter_reduce(dim, index, src, reduce="amax", include_self=True), None

        scatter.scatter_add, scatter.scatter_max = scatter_add, scatter_max
        sys.modules["torch_scatter"] = scatter
    try:
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        mpl = types.ModuleType("matplotlib")
        mpl.pyplot = types.ModuleType("matplotlib.pyplot")
        sys.modules["matplotlib"], sys.modules["matplotlib.pyplot"] = mpl, mpl.pyplot
    sys.path.insert(0, os.path.abspath(path))
    import pydiffres

    return pydiffres


def build_frontend(kind, frames, mels, reduction, checkout):
    """pydiffres's DiffRes or AvgPool, or the identity (a [B, 1, T, F] feature)."""
    if kind == "identity":
        return None, 1
    pydiffres = import_pydiffres(checkout)
    layers = {"diffres": (pydiffres.DiffRes, 3), "avgpool": (pydiffres.AvgPool, 1)}
    if kind not in layers:
        raise SystemExit(f"error: unknown front end '{kind}' (identity, avgpool, diffres)")
    cls, channels = layers[kind]
    layer = cls(
        in_t_dim=frames, in_f_dim=mels, dimension_reduction_rate=reduction, learn_pos_emb=False
    )
    return layer, channels


# ---------------------------------------------------------------------------------------------
# Cases (each runs in its own process)


def case_classifier(args):
    torch = import_torch(args.threads)
    shape = (args.batch, args.channels, args.frames, args.mels)
    model = build_classifier(args.model, args.channels, args.classes)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    x = torch.randn(shape)

    model.eval()

    def forward():
        with torch.no_grad():
            model(x)

    forward_s, forward_cpu_s = measure(args.reps, forward)

    model.train()

    def step():
        model.zero_grad(set_to_none=True)
        model(x).pow(2).mean().backward()

    train_step_s, train_step_cpu_s = measure(args.reps, step)
    return {
        "model": args.model,
        "batch": args.batch,
        "channels": args.channels,
        "frames": args.frames,
        "mels": args.mels,
        "params": params,
        "forward_s": forward_s,
        "train_step_s": train_step_s,
        "forward_cpu_s": forward_cpu_s,
        "train_step_cpu_s": train_step_cpu_s,
    }


def case_layer(args):
    torch = import_torch(args.threads)
    pydiffres = import_pydiffres(args.diffres_python)
    base_mb = peak_rss_mb()
    delta = args.delta if args.delta is not None else default_delta(args.frames)
    layer = pydiffres.DiffRes(
        in_t_dim=args.frames, in_f_dim=args.mels, dimension_reduction_rate=delta,
        learn_pos_emb=False,
    )
    x = torch.randn(args.batch, args.frames, args.mels) * 2.0 - 5.0

    layer.eval()

    def forward():
        with torch.no_grad():
            layer(x)["feature"]

    forward_s, forward_cpu_s = measure(args.reps, forward)
    forward_peak = peak_rss_mb() - base_mb

    layer.train()

    def step():
        layer.zero_grad(set_to_none=True)
        ret = layer(x)
        (ret["feature"].sum() + ret["guide_loss"].sum()).backward()

    train_step_s, train_step_cpu_s = measure(args.reps, step)
    return {
        "frontend": "diffres",
        "T": args.frames,
        "delta": delta,
        "t": layer.output_seq_length,
        "batch": args.batch,
        "mels": args.mels,
        "forward_s": forward_s,
        "train_step_s": train_step_s,
        "forward_cpu_s": forward_cpu_s,
        "train_step_cpu_s": train_step_cpu_s,
        # Growth of the process's peak resident memory over its size after importing torch
        # and the layer's code (input, weights and work buffers); the Rust side counts heap.
        "peak_heap_mb": peak_rss_mb() - base_mb,
        "forward_peak_heap_mb": forward_peak,
    }


def default_delta(frames):
    """bench_layer's cases: delta 0.9 at T >= 10,000, else 0.75."""
    return 0.9 if frames >= 10_000 else 0.75


def mel_matrix(torch, sample_rate, n_fft, n_mels):
    """HTK mel filterbank without normalisation, [n_fft / 2 + 1, n_mels] (torchaudio's)."""
    n_freqs = n_fft // 2 + 1
    all_freqs = torch.linspace(0, sample_rate / 2, n_freqs, dtype=torch.float64)
    hz_to_mel = lambda f: 2595.0 * math.log10(1.0 + f / 700.0)  # noqa: E731
    m_pts = torch.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2,
                           dtype=torch.float64)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0).float()


# diffres-audio's log-mel defaults: 16 kHz, n_fft 512, Hann window of 400, hop 160, log floor.
SAMPLE_RATE, N_FFT, WINDOW, HOP, LOG_FLOOR = 16_000, 512, 400, 160, 1e-6


def log_mel_fn(torch, mels):
    """diffres-audio's log-mel (the constants above, `mels` HTK mels, power 2), computed in
    float32: a function of waveforms [B, samples] and a frame count giving [B, frames, mels],
    cut or padded with silence (the log floor). The window and filterbank are built once."""
    window = torch.hann_window(WINDOW)
    fb = mel_matrix(torch, SAMPLE_RATE, N_FFT, mels)

    def log_mel(waves, frames):
        spec = torch.stft(waves, N_FFT, hop_length=HOP, win_length=WINDOW, window=window,
                          center=True, pad_mode="reflect", return_complex=True)
        power = spec.abs().pow(2).transpose(1, 2)  # [B, samples / hop + 1, n_fft / 2 + 1]
        logmel = torch.log(torch.clamp(power @ fb, min=LOG_FLOOR))[:, :frames]
        if logmel.shape[1] < frames:
            pad = torch.full((logmel.shape[0], frames - logmel.shape[1], mels),
                             math.log(LOG_FLOOR))
            logmel = torch.cat([logmel, pad], 1)
        return logmel

    return log_mel


def case_train(args):
    """bench_train's case: same data formulas, batch, shapes, loss and optimiser."""
    torch = import_torch(args.threads)
    import numpy as np
    import torch.nn.functional as F

    batch, frames, mels, classes = args.batch, args.frames, args.mels, args.classes
    reduction = 0.0 if args.frontend == "identity" else args.reduction
    frontend, channels = build_frontend(
        args.frontend, frames, mels, reduction, args.diffres_python
    )
    classifier = build_classifier(args.model, channels, classes)
    modules = [m for m in (frontend, classifier) if m is not None]
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    optim = torch.optim.Adam(params, lr=1e-3)

    def features(x):
        if frontend is None:
            return x.unsqueeze(1), None
        ret = frontend(x)
        return ret["feature"], ret["guide_loss"].sum()

    i = np.arange(batch * frames * mels)
    x = torch.from_numpy(((i * 31 % 97) / 10.0 - 12.0).astype(np.float32)).reshape(
        batch, frames, mels
    )
    k = np.arange(batch * classes)
    y = torch.from_numpy((k % classes == (k // classes) % classes).astype(np.float32))
    y = y.reshape(batch, classes)

    for m in modules:
        m.train()

    def step():
        optim.zero_grad(set_to_none=True)
        feature, guide = features(x)
        loss = F.cross_entropy(classifier(feature), y)
        if guide is not None:
            loss = loss + guide
        loss.backward()
        optim.step()

    train_step_s, train_step_cpu_s = measure(args.reps, step)

    # Inference: waveform -> log-mel (diffres-audio's defaults) -> front end -> classifier ->
    # label.
    n = np.arange(frames * HOP)
    t = n / SAMPLE_RATE
    waves = np.stack([
        0.3 * np.sin(2 * np.pi * (300.0 + 100.0 * b + 2000.0 * t) * t)
        + 0.01 * ((n * 7919 % 1000) / 500.0 - 1.0)
        for b in range(batch)
    ]).astype(np.float32)
    waves = torch.from_numpy(waves)
    log_mel = log_mel_fn(torch, mels)
    for m in modules:
        m.eval()

    def infer():
        with torch.no_grad():
            feature, _ = features(log_mel(waves, frames))
            torch.softmax(classifier(feature), 1).argmax(1)

    infer_s, infer_cpu_s = measure(args.reps, infer)
    clip_s = frames * HOP / SAMPLE_RATE
    return {
        "frontend": args.frontend,
        "model": args.model,
        "reduction": reduction,
        "T": frames,
        "batch": batch,
        "mels": mels,
        "train_step_s": train_step_s,
        "train_clips_per_s": batch / train_step_s,
        "infer_audio_s_per_s": batch * clip_s / infer_s,
        "train_step_cpu_s": train_step_cpu_s,
        "infer_cpu_s": infer_cpu_s,
        "process_peak_rss_mb": peak_rss_mb(),
    }


def case_run(args):
    """A whole training run on a dataset folder, features in memory (see the module docs)."""
    torch = import_torch(args.threads)
    import csv
    import wave

    import numpy as np
    import torch.nn.functional as F

    torch.manual_seed(0)
    folder = os.path.dirname(os.path.abspath(args.manifest))
    with open(args.manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    labels = sorted({r["label"] for r in rows})
    index = {name: i for i, name in enumerate(labels)}

    log_mel = log_mel_fn(torch, args.mels)

    def load(splits):
        chosen = [r for r in rows if r["split"] in splits]
        if not chosen:
            raise SystemExit(f"error: {args.manifest}: no clips in split {'/'.join(splits)}")
        feats = []
        for start in range(0, len(chosen), 64):  # decode and featurise in chunks
            waves = []
            for r in chosen[start:start + 64]:
                with wave.open(os.path.join(folder, r["path"]), "rb") as w:
                    if w.getsampwidth() != 2 or w.getframerate() != SAMPLE_RATE:
                        raise SystemExit(f"error: {r['path']}: expected 16-bit 16 kHz WAV")
                    pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
                waves.append(pcm.astype(np.float32) / 32768.0)
            longest = max(len(x) for x in waves)
            batch = np.zeros((len(waves), longest), dtype=np.float32)
            for i, x in enumerate(waves):
                batch[i, :len(x)] = x
            feats.append(log_mel(torch.from_numpy(batch), args.frames))
        targets = torch.tensor([index[r["label"]] for r in chosen])
        return torch.cat(feats), targets

    started = time.perf_counter()
    x_train, y_train = load(("train",))
    x_valid, y_valid = load(("val", "valid", "validation"))
    frontend, channels = build_frontend(
        args.frontend, args.frames, args.mels, args.reduction, args.diffres_python
    )
    classifier = build_classifier(args.model, channels, len(labels))
    modules = [m for m in (frontend, classifier) if m is not None]
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    optim = torch.optim.Adam(params, lr=1e-3)

    def forward(x):
        if frontend is None:
            return classifier(x.unsqueeze(1)), None
        ret = frontend(x)
        return classifier(ret["feature"]), ret["guide_loss"].sum()

    for _ in range(args.epochs):
        for m in modules:
            m.train()
        order = torch.randperm(len(x_train))
        for start in range(0, len(order), args.batch):
            idx = order[start:start + args.batch]
            optim.zero_grad(set_to_none=True)
            logits, guide = forward(x_train[idx])
            loss = F.cross_entropy(logits, y_train[idx])
            if guide is not None:
                loss = loss + guide
            loss.backward()
            optim.step()
        for m in modules:
            m.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(x_valid), args.batch):
                logits, _ = forward(x_valid[start:start + args.batch])
                correct += (logits.argmax(1) == y_valid[start:start + args.batch]).sum().item()
    return {
        "case": "train_run",
        "frontend": args.frontend,
        "model": args.model,
        "reduction": args.reduction,
        "T": args.frames,
        "batch": args.batch,
        "mels": args.mels,
        "epochs": args.epochs,
        "clips": len(x_train) + len(x_valid),
        "valid_accuracy": correct / max(len(x_valid), 1),
        "wall_s": time.perf_counter() - started,
        "process_peak_rss_mb": peak_rss_mb(),
    }


CASES = {"classifier": case_classifier, "layer": case_layer, "train": case_train,
         "run": case_run}


# ---------------------------------------------------------------------------------------------
# Command line


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(s):
        s.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
        s.add_argument("--reps", type=int, default=3, help="timed repetitions (default 3)")
        s.add_argument("--batch", type=int, default=32)
        s.add_argument("--mels", type=int, default=128)
        s.add_argument("--in-process", action="store_true",
                       help="run the one case here instead of in a child process")

    s = sub.add_parser("classifier", help="classifier forward and training step")
    common(s)
    s.add_argument("--model", default=",".join(MODELS),
                   help="comma-separated: cnn, efficientnet-b0, efficientnet-b2")
    s.add_argument("--channels", type=int, default=3)
    s.add_argument("--frames", type=int, default=250)
    s.add_argument("--classes", type=int, default=10)

    s = sub.add_parser("layer", help="the authors' DiffRes layer")
    common(s)
    s.add_argument("--frames", default="1000,3000,10000", help="comma-separated T values")
    s.add_argument("--delta", type=float, default=None,
                   help="reduction rate (default 0.9 at T >= 10000, else 0.75)")
    s.add_argument("--diffres-python", default=os.environ.get("DIFFRES_PYTHON"),
                   help="checkout of github.com/haoheliu/diffres-python (or DIFFRES_PYTHON)")

    s = sub.add_parser("train", help="end-to-end training and inference throughput")
    common(s)
    s.add_argument("--model", default="cnn", help="comma-separated classifiers")
    s.add_argument("--frontend", default="diffres",
                   help="comma-separated: identity, avgpool, diffres")
    s.add_argument("--reduction", default="0.75", help="comma-separated reduction rates")
    s.add_argument("--frames", default="1000", help="comma-separated T values")
    s.add_argument("--classes", type=int, default=10)
    s.add_argument("--diffres-python", default=os.environ.get("DIFFRES_PYTHON"),
                   help="checkout of github.com/haoheliu/diffres-python (or DIFFRES_PYTHON)")

    s = sub.add_parser("run", help="a whole training run on a dataset folder (peak memory)")
    common(s)
    s.add_argument("--manifest", required=True, help="the dataset's manifest.csv")
    s.add_argument("--model", default="cnn")
    s.add_argument("--frontend", default="diffres", help="identity, avgpool or diffres")
    s.add_argument("--reduction", type=float, default=0.75)
    s.add_argument("--frames", type=int, default=100)
    s.add_argument("--epochs", type=int, default=1)
    s.add_argument("--diffres-python", default=os.environ.get("DIFFRES_PYTHON"),
                   help="checkout of github.com/haoheliu/diffres-python (or DIFFRES_PYTHON)")
    return p


# Options that may list several values; every combination is one case.
LISTS = {
    "classifier": ("model",),
    "layer": ("frames",),
    "train": ("frontend", "model", "reduction", "frames"),
    "run": (),
}
CONVERT = {"frames": int, "reduction": float, "model": str, "frontend": str}


def expand(args):
    """The cases of a command: the product of its comma-separated options."""
    cases = [{}]
    for name in LISTS[args.command]:
        values = [CONVERT[name](v) for v in str(getattr(args, name)).split(",") if v]
        cases = [dict(c, **{name: v}) for c in cases for v in values]
    if args.command == "train":  # identity has no reduction: measure it once
        seen, unique = set(), []
        for c in cases:
            key = (c["frontend"], c["model"], c["frames"],
                   None if c["frontend"] == "identity" else c["reduction"])
            if key not in seen:
                seen.add(key)
                unique.append(c)
        cases = unique
    return cases


def main():
    args = parser().parse_args()
    if args.in_process:
        import torch

        for name in LISTS[args.command]:  # one value each here
            setattr(args, name, CONVERT[name](getattr(args, name)))
        line = CASES[args.command](args)
        line.update(host_fields(args, torch))
        print(json.dumps(line), flush=True)
        return
    # One child process per case: its peak memory is its own, and a crash names the case.
    status = 0
    for case in expand(args):
        argv = [sys.executable, os.path.abspath(__file__)] + sys.argv[1:] + ["--in-process"]
        for name, value in case.items():
            argv += ["--" + name.replace("_", "-"), str(value)]
        done = subprocess.run(argv)
        if done.returncode != 0:
            print(f"error: case {case} failed (exit {done.returncode})", file=sys.stderr)
            status = 1
    sys.exit(status)


if __name__ == "__main__":
    main()
