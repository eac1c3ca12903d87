#!/usr/bin/env bash
# Runs diffres's CPU benchmarks and their PyTorch counterparts case by case, interleaved (one
# Rust case, then the same case in PyTorch), and prints every JSON line; then the comparison
# tables (bench/summarize.py). Both sides use the same thread count, shapes and repetitions.
#
#   bench/compare.sh [classifier] [layer] [train] [memory]     (default: all four)
#
# Environment:
#   TORCH_VENV      virtual environment made by bench/pytorch/setup_venv.sh
#                   (default bench/pytorch/.venv); or PYTHON, its python
#   DIFFRES_PYTHON  checkout of https://github.com/haoheliu/diffres-python (layer, train,
#                   memory)
#   THREADS         threads on both sides (default 2)
#   REPS            timed repetitions after one warm-up, median reported (default 3)
#   OUT             file that collects the JSON lines (default bench/results-DATE.jsonl)
#   CARGO_FLAGS     extra flags of the Rust build, e.g. --no-default-features (the AVX2 code
#                   on an AVX-512 machine: what a machine without AVX-512 runs)
#   CARGO_TARGET_DIR  cargo's target directory (default target)
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-2}
REPS=${REPS:-3}
PYTHON=${PYTHON:-${TORCH_VENV:-bench/pytorch/.venv}/bin/python}
OUT=${OUT:-bench/results-$(date -u +%Y-%m-%d).jsonl}
SUITES=("$@")
[ ${#SUITES[@]} -eq 0 ] && SUITES=(classifier layer train memory)

if [ ! -x "$PYTHON" ]; then
    echo "error: no python at $PYTHON: run bench/pytorch/setup_venv.sh, or set TORCH_VENV or PYTHON" >&2
    exit 1
fi
for s in "${SUITES[@]}"; do
    case $s in
        classifier) ;;
        layer|train|memory)
            if [ -z "${DIFFRES_PYTHON:-}" ]; then
                echo "error: $s needs DIFFRES_PYTHON, a checkout of https://github.com/haoheliu/diffres-python" >&2
                exit 1
            fi ;;
        *) echo "error: unknown suite '$s' (classifier, layer, train, memory)" >&2; exit 1 ;;
    esac
done

# shellcheck disable=SC2086 # CARGO_FLAGS is a list of flags
cargo build --release --quiet --workspace ${CARGO_FLAGS:-} \
    --example bench_layer --example bench_classifier --example bench_train --example bench_memory
BIN=${CARGO_TARGET_DIR:-target}/release/examples
TORCH=("$PYTHON" bench/pytorch/bench_torch.py)
: > "$OUT"

# Runs one command and appends its JSON lines to $OUT (and prints them).
run() {
    echo "+ $*" >&2
    "$@" | tee -a "$OUT"
}

for s in "${SUITES[@]}"; do
    case $s in
        classifier)
            # The issue's input: [32, 3, 250, 128] (DiffRes at T = 1000, 25% kept).
            for m in cnn efficientnet-b0 efficientnet-b2; do
                shape=(--batch 32 --channels 3 --frames 250 --mels 128 --reps "$REPS")
                run "$BIN/bench_classifier" --json --threads "$THREADS" --model "$m" "${shape[@]}"
                run "${TORCH[@]}" classifier --threads "$THREADS" --model "$m" "${shape[@]}"
            done ;;
        layer)
            for t in 1000 3000 10000; do
                run "$BIN/bench_layer" --json --threads "$THREADS" --frontend diffres --frames "$t" --reps "$REPS"
                run "${TORCH[@]}" layer --threads "$THREADS" --frames "$t" --reps "$REPS"
            done ;;
        train)
            # DiffRes (T = 1000, 25% kept) + each classifier, end to end.
            for m in cnn efficientnet-b0 efficientnet-b2; do
                case_=(--frames 1000 --reps "$REPS")
                run "$BIN/bench_train" --json --threads "$THREADS" --models "$m" --frontends diffres --reductions 0.75 "${case_[@]}"
                run "${TORCH[@]}" train --threads "$THREADS" --model "$m" --frontend diffres --reduction 0.75 "${case_[@]}"
            done ;;
        memory)
            # Peak memory of a whole training run (one epoch, then validation) on synthetic
            # datasets of 270 and 5,400 clips, features streamed and held in memory; bench_memory
            # runs the PyTorch side (bench_torch.py run) itself, sampled the same way.
            run "$BIN/bench_memory" --json --torch "$PYTHON"
            run "$BIN/bench_memory" --json --memory --torch "$PYTHON" ;;
    esac
done

echo >&2
python3 bench/summarize.py "$OUT"
