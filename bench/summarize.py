#!/usr/bin/env python3
"""Markdown comparison tables from the JSON lines of diffres's benchmarks and
bench/pytorch/bench_torch.py (as bench/compare.sh collects them).

  python3 bench/summarize.py results.jsonl [more.jsonl ...]     (standard library only)

Lines are paired by case (model and shape; front end and T; front end, model, reduction and
T; clips for bench_memory's whole training runs); a case measured several times gives the
median of its runs. "x faster" / "x slower"
compare diffres with PyTorch on wall-clock time; the CPU columns give process CPU seconds
(all threads), the steadier figure on a busy machine.
"""

import json
import statistics
import sys


def load(paths):
    rows = []
    for path in paths:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    sys.exit(f"error: {path}:{n}: not JSON ({e})")
    return rows


def suite(row):
    if "case" in row:  # bench_memory: only its measured runs make a table
        return "memory" if row["case"] == "train_1_epoch" else None
    if "train_clips_per_s" in row:
        return "train"
    if "frontend" in row:
        return "layer"
    if "model" in row:
        return "classifier"
    return None


KEYS = {
    "classifier": ("model", "batch", "channels", "frames", "mels"),
    "layer": ("frontend", "T", "batch", "mels"),
    "train": ("frontend", "model", "reduction", "T", "batch", "mels"),
    "memory": ("clips",),
}


def grouped(rows, name):
    """{case: {implementation: [rows]}} in first-seen order."""
    out = {}
    for r in rows:
        if suite(r) != name:
            continue
        key = tuple(r.get(k) for k in KEYS[name])
        out.setdefault(key, {}).setdefault(r.get("implementation", "?"), []).append(r)
    return out


def med(rs, key):
    values = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=3):
    return "-" if v is None else f"{v:.{digits}f}"


def ratio_time(ours, theirs):
    """diffres's time against PyTorch's."""
    if ours is None or theirs is None or ours <= 0 or theirs <= 0:
        return "-"
    return f"{theirs / ours:.1f}x faster" if ours <= theirs else f"{ours / theirs:.1f}x slower"


def ratio_rate(ours, theirs):
    """diffres's throughput against PyTorch's."""
    if ours is None or theirs is None or ours <= 0 or theirs <= 0:
        return "-"
    return f"{ours / theirs:.1f}x faster" if ours >= theirs else f"{theirs / ours:.1f}x slower"


def header(rows):
    rows = [r for r in rows if "cpu" in r]  # bench_memory's ratio lines do not say
    cpus = sorted({r.get("cpu", "?") for r in rows})
    avx = sorted({str(r.get("avx512")) for r in rows})
    threads = sorted({str(r.get("threads")) for r in rows})
    torch = sorted({r["torch"] for r in rows if "torch" in r})
    print(f"CPU: {', '.join(cpus)} | AVX-512: {', '.join(avx)} | threads: {', '.join(threads)}"
          f" | PyTorch {', '.join(torch) or '-'}\n")


def time_cells(ours, theirs):
    """Forward and forward + backward seconds, ours and PyTorch's, each with their ratio."""
    fo, ft = med(ours, "forward_s"), med(theirs, "forward_s")
    so, st = med(ours, "train_step_s"), med(theirs, "train_step_s")
    return (f"{fmt(fo)} | {fmt(ft)} | {ratio_time(fo, ft)} | "
            f"{fmt(so)} | {fmt(st)} | {ratio_time(so, st)}")


def cpu_cell(ours, theirs):
    """CPU seconds, ours / PyTorch's, of the forward pass; then of forward + backward."""
    return (f"{fmt(med(ours, 'forward_cpu_s'), 2)} / {fmt(med(theirs, 'forward_cpu_s'), 2)}; "
            f"{fmt(med(ours, 'train_step_cpu_s'), 2)} / {fmt(med(theirs, 'train_step_cpu_s'), 2)}")


def classifiers(rows):
    groups = grouped(rows, "classifier")
    if not groups:
        return
    print("| model | input | forward diffres (s) | forward PyTorch (s) | forward | "
          "training step diffres (s) | training step PyTorch (s) | training step | "
          "CPU s diffres / PyTorch (fwd; step) |")
    print("|---|---|---:|---:|---|---:|---:|---|---|")
    for (model, b, c, t, f), impl in groups.items():
        ours, theirs = impl.get("diffres", []), impl.get("pytorch", [])
        print(f"| {model} | [{b}, {c}, {t}, {f}] | {time_cells(ours, theirs)} | "
              f"{cpu_cell(ours, theirs)} |")
    print()


def layer(rows):
    groups = grouped(rows, "layer")
    if not groups:
        return
    print("| front end | T | δ | forward diffres (s) | forward PyTorch (s) | forward | "
          "fwd + bwd diffres (s) | fwd + bwd PyTorch (s) | fwd + bwd | "
          "peak memory diffres / PyTorch (MB) | CPU s diffres / PyTorch (fwd; fwd + bwd) |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---|---|---|")
    for (frontend, t, _b, _f), impl in groups.items():
        ours, theirs = impl.get("diffres", []), impl.get("pytorch", [])
        delta = med(ours or theirs, "delta")
        mem = f"{fmt(med(ours, 'peak_heap_mb'), 0)} / {fmt(med(theirs, 'peak_heap_mb'), 0)}"
        print(f"| {frontend} | {t:,} | {delta} | {time_cells(ours, theirs)} | {mem} | "
              f"{cpu_cell(ours, theirs)} |")
    print()


def train(rows):
    groups = grouped(rows, "train")
    if not groups:
        return
    print("| front end | model | T | kept | training diffres (clips/s) | PyTorch (clips/s) | "
          "training | inference diffres (s audio/s) | PyTorch (s audio/s) | inference | "
          "peak RSS diffres / PyTorch (MB) | CPU s per training step diffres / PyTorch |")
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---|---|---|")
    for (frontend, model, reduction, t, _b, _f), impl in groups.items():
        ours, theirs = impl.get("diffres", []), impl.get("pytorch", [])
        to, tt = med(ours, "train_clips_per_s"), med(theirs, "train_clips_per_s")
        io, it = med(ours, "infer_audio_s_per_s"), med(theirs, "infer_audio_s_per_s")
        mem = (f"{fmt(med(ours, 'process_peak_rss_mb'), 0)} / "
               f"{fmt(med(theirs, 'process_peak_rss_mb'), 0)}")
        cpu = f"{fmt(med(ours, 'train_step_cpu_s'), 2)} / {fmt(med(theirs, 'train_step_cpu_s'), 2)}"
        kept = f"{(1 - reduction) * 100:.0f}%"
        print(f"| {frontend} | {model} | {t:,} | {kept} | {fmt(to, 1)} | {fmt(tt, 1)} | "
              f"{ratio_rate(to, tt)} | {fmt(io, 0)} | {fmt(it, 0)} | {ratio_rate(io, it)} | {mem} | "
              f"{cpu} |")
    print()


def memory(rows):
    groups = grouped(rows, "memory")
    if not groups:
        return
    print("| clips | diffres streamed (MiB) | diffres in memory (MiB) | PyTorch in memory (MiB) | "
          "diffres / PyTorch (streamed; in memory) |")
    print("|---:|---:|---:|---:|---:|")
    for (clips,), impl in groups.items():
        ours = impl.get("diffres", [])
        streamed = med([r for r in ours if r.get("stream")], "peak_rss_anon_mib")
        held = med([r for r in ours if not r.get("stream")], "peak_rss_anon_mib")
        theirs = med(impl.get("pytorch", []), "peak_rss_anon_mib")

        def share(v):
            return "-" if v is None or not theirs else f"{v / theirs:.2f}x"

        print(f"| {clips:,} | {fmt(streamed, 1)} | {fmt(held, 1)} | {fmt(theirs, 1)} | "
              f"{share(streamed)}; {share(held)} |")
    print()


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: summarize.py RESULTS.jsonl [...]")
    rows = load(sys.argv[1:])
    if not rows:
        sys.exit("error: no JSON lines in " + ", ".join(sys.argv[1:]))
    header(rows)
    classifiers(rows)
    layer(rows)
    train(rows)
    memory(rows)


if __name__ == "__main__":
    main()
