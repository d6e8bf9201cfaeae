#!/usr/bin/env bash
# Configures and builds native/ with CMake. Called by Maven (native/pom.xml) and by hand.
#   scripts/build-native.sh [BUILD_DIR] [TORCH_DIR] [-DOPTION=VALUE ...]
# TORCH_DIR is the folder holding TorchConfig.cmake; empty means $Torch_DIR, else the libtorch recorded in
# build/torch-dir by scripts/setup-libtorch.sh (chosen now if nothing is recorded yet). Further arguments go to
# CMake's configure step (empty ones are dropped).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/native}
torch_dir=${2:-${Torch_DIR:-}}
if [ -z "$torch_dir" ]; then
  [ -f "$root/build/torch-dir" ] || "$root/scripts/setup-libtorch.sh"
  torch_dir=$(cat "$root/build/torch-dir")
  [ "$torch_dir" = debian ] && torch_dir=""
fi
args=(-S "$root" -B "$build" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-Release})
[ -n "$torch_dir" ] && args+=(-DTorch_DIR="$torch_dir")
for a in "${@:3}"; do [ -n "$a" ] && args+=("$a"); done
if ! command -v cmake >/dev/null; then echo "build-native: cmake is missing (apt-get install cmake)" >&2; exit 1; fi
mkdir -p "$build"
# The configure output (libtorch's own CMake warnings among it) goes to a log, shown when configuring fails.
cmake "${args[@]}" > "$build/configure.log" 2>&1 || { cat "$build/configure.log" >&2; exit 1; }
grep -h '^-- mtpf:' "$build/configure.log" || true
cmake --build "$build" -j "$(nproc)"
