#!/usr/bin/env bash
# The native test suites under sanitizers (part of scripts/test-all.sh):
#   ASan + UBSan   core (libmtpf + mtpf_tests) and runtime suites, build/asan: every heap error, use after free,
#                  overflow, undefined behaviour aborts the test; leaks are reported (native/sanitizers/lsan.supp
#                  names what libtorch keeps for the process's life)
#   TSan           the runtime built alone (build/tsan-runtime): its thread pool and the shared-backbone,
#                  many-callers tests (16 callers with mixed adapters while adapters load and unload)
# libtorch and OpenBLAS are not instrumented (they are used as shipped).
#   scripts/test-sanitizers.sh [--only asan|tsan]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
only=""
[ "${1:-}" = --only ] && only=$2
tmp=$(mktemp -d "$root/build/sanitizer-tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ -z "$only" ] || [ "$only" = asan ]; then
  echo "== sanitizers: ASan + UBSan build of native/ (tests on, benchmarks off) in build/asan"
  "$root/scripts/build-native.sh" "$root/build/asan" "" -DMTPF_BUILD_TESTS=ON -DMTPF_BUILD_BENCHMARKS=OFF \
    -DMTPF_SANITIZE=address,undefined -DMTPF_UNITY=ON > "$root/build/asan.log" 2>&1 || { tail -40 "$root/build/asan.log" >&2; exit 1; }
  # The core's tests load libtorch into an ASan process: new/delete pairs across the uninstrumented library are
  # fine, its one-time registries are not leaks of ours.
  export TMPDIR=$tmp OPENBLAS_NUM_THREADS=1 \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_odr_violation=0:alloc_dealloc_mismatch=0 \
    LSAN_OPTIONS=suppressions=$root/native/sanitizers/lsan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # One process per suite, not ctest's process per test: loading libtorch into an ASan process takes about a
  # second, which was most of the suite's time. One at a time: two processes' libtorch (OpenMP) threads on two
  # cores slow each other down several times over (measured here without ASan: the core suite 23 s alone, 118 s
  # as two gtest shards side by side).
  suite() {  # suite NAME DIR BINARY
    if ! (cd "$2" && "./$3" --gtest_brief=1 > "$tmp/$1.log" 2>&1); then
      echo "[sanitizers] the $1 suite FAILED:" >&2
      tail -80 "$tmp/$1.log" >&2
      return 1
    fi
    grep -h "SKIPPED\|PASSED" "$tmp/$1.log" | grep -v "listed below" || true
  }
  suite core "$root/build/asan/native" mtpf_tests
  suite runtime "$root/build/asan/native/runtime" mtpf_runtime_tests
fi

if [ -z "$only" ] || [ "$only" = tsan ]; then
  echo "== sanitizers: TSan build of native/runtime in build/tsan-runtime; thread pool and many-callers tests"
  openblas=""
  for d in "$root"/build/native/openblas-linux-x86_64 "$root"/build/native/native/runtime/openblas-*; do
    [ -f "$d/include/cblas.h" ] && openblas=$d && break
  done
  cmake -S "$root/native/runtime" -B "$root/build/tsan-runtime" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" -DMTPF_BUILD_BENCHMARKS=OFF \
    ${openblas:+-DMTPF_OPENBLAS_DIR="$openblas"} > "$root/build/tsan-runtime.log" 2>&1 &&
    cmake --build "$root/build/tsan-runtime" -j "$(nproc)" >> "$root/build/tsan-runtime.log" 2>&1 ||
    { tail -40 "$root/build/tsan-runtime.log" >&2; exit 1; }
  TMPDIR=$tmp OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    "$root/build/tsan-runtime/mtpf_runtime_tests" \
    --gtest_filter='*Concurrent*:*Sixteen*:*ThreadPool*:*ThreadCount*:Lora.MixedAdapterBatch*'
fi
