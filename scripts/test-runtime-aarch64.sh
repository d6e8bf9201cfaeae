#!/usr/bin/env bash
# Cross-builds the libtorch-free runtime (native/runtime) for linux-aarch64 and runs its ctest suite under
# qemu-user. Part of README command (2); also run by hand:
#   scripts/test-runtime-aarch64.sh [BUILD_DIR]          default build/aarch64
# Needs g++-aarch64-linux-gnu and qemu-user (installed through apt-get when missing) and bytedeco's linux-arm64
# OpenBLAS (fetched through Maven). Where qemu cannot run here (no package, no permission, a host that refuses
# it) the step prints "SKIPPED: ..." and exits 0; a build or test failure fails it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/aarch64}
sysroot=/usr/aarch64-linux-gnu
skip() { echo "[runtime-aarch64] SKIPPED: $*" >&2; exit 0; }
start=$(date +%s)

case "$(uname -m)" in
  x86_64 | amd64) ;;
  *) skip "host is $(uname -m), not x86_64: Debian's aarch64 cross compiler and qemu step are for x86_64 hosts" ;;
esac

# 1. Cross compiler and emulator. A missing package we cannot install is outside the repo: skip, loudly.
packages=(g++-aarch64-linux-gnu qemu-user)
missing=()
command -v aarch64-linux-gnu-g++ >/dev/null || missing+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo=sudo
  if [ "${MTPF_NO_INSTALL:-}" = 1 ] || ! command -v apt-get >/dev/null || { [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; }; then
    skip "missing ${missing[*]} and cannot install them here (apt-get install ${packages[*]})"
  fi
  echo "[runtime-aarch64] installing ${missing[*]}" >&2
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
         "${missing[@]}" >/dev/null; }; then
    skip "apt-get could not install ${missing[*]}"
  fi
fi

# 2. Can qemu run an aarch64 program on this host at all? (Some containers forbid it.) A failure to compile
#    this probe is a broken cross compiler, which is also outside the repo.
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf 'int main(void) { return 0; }\n' > "$probe_dir/probe.c"
if ! aarch64-linux-gnu-gcc "$probe_dir/probe.c" -o "$probe_dir/probe" 2> "$probe_dir/log"; then
  skip "aarch64-linux-gnu-gcc cannot build a trivial program: $(head -c 300 "$probe_dir/log" | tr "\n" " ")"
fi
if ! qemu-aarch64 -L "$sysroot" "$probe_dir/probe" > "$probe_dir/log" 2>&1; then
  skip "qemu-aarch64 cannot run an aarch64 program on this host: $(head -c 300 "$probe_dir/log" | tr "\n" " ")"
fi

# 3. bytedeco's linux-arm64 OpenBLAS: include/cblas.h, libopenblas.so.0 and the libgfortran.so.5 it needs
#    (found through its RUNPATH $ORIGIN).
openblas=$build/openblas
"$root/scripts/fetch-openblas.sh" linux-arm64 "$openblas"

# 4. Configure and build. GoogleTest is built from /usr/src/googletest: Debian's libgtest-dev is x86_64 only.
echo "[runtime-aarch64] cross-building native/runtime into $build" >&2
cmake -S "$root/native/runtime" -B "$build" \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-Release}" \
  -DMTPF_OPENBLAS_DIR="$openblas" \
  -DMTPF_RUNTIME_GTEST_FROM_SOURCE=ON -DMTPF_BUILD_TESTS=ON -DMTPF_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "${MTPF_JOBS:-2}"

# 5. ctest runs each test through CMAKE_CROSSCOMPILING_EMULATOR (qemu-aarch64 -L sysroot). QEMU_SET_ENV gives the
#    guest's loader the OpenBLAS folder without pointing the host's cmake/ctest at aarch64 libraries.
export QEMU_LD_PREFIX=$sysroot
export QEMU_SET_ENV=LD_LIBRARY_PATH=$openblas
(cd "$build" && ctest --output-on-failure -j "${MTPF_JOBS:-2}" --timeout "${MTPF_QEMU_TEST_TIMEOUT:-900}")
echo "[runtime-aarch64] done in $(( $(date +%s) - start )) s (cross-build + ctest under qemu-aarch64)" >&2
