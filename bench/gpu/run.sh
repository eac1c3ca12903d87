#!/usr/bin/env bash
# The GPU benchmark on a machine with an NVIDIA GPU, no network and no Rust toolchain.
#
# Here (with Rust):
#   cargo build --release -p diffres-train --features wgpu --example gpu_bench
#   cp target/release/examples/gpu_bench bench/gpu/
# There: copy bench/gpu/ (this script and the binary) and run
#   bash run.sh > gpu.jsonl
# It prints one JSON object per line (see crates/diffres-train/examples/gpu_bench.rs): the
# DiffRes layer's forward + backward at T = 1,000 / 3,000 / 10,000 and training throughput of
# the compact CNN and EfficientNet-B2 with DiffRes and with the 100-FPS baseline, then the
# GPU's name. The binary reaches the GPU through Vulkan: the machine needs the Vulkan loader
# (libvulkan.so.1) and the NVIDIA driver's Vulkan ICD (nvidia_icd.json); CUDA is not used.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${GPU_BENCH_BIN:-$here/gpu_bench}"
[ -x "$bin" ] || { echo "error: $bin missing: build it with cargo (see the top of this script)" >&2; exit 1; }
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
    echo "error: no Vulkan loader (libvulkan.so.1): install libvulkan1 or point LD_LIBRARY_PATH at one" >&2
    exit 1
fi
# The NVIDIA ICD where container images put it, unless the caller chose one.
for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
           /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; fi
done
"$bin" --device wgpu "$@"
if command -v nvidia-smi >/dev/null; then
    gpu="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"
    printf '{"bench": "machine", "gpu": "%s"}\n' "$gpu"
fi
