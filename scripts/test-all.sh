#!/usr/bin/env bash
# README command (2): every test. Installs what it needs (scripts/setup.sh --tests: packages, and PyTorch's libtorch
# 2.x in build/pyenv), builds native/ against that libtorch, runs the native suites (core and runtime) under ASan +
# UBSan and the runtime's threaded paths under TSan (scripts/test-sanitizers.sh), fuzzes the native parsers
# (scripts/fuzz.sh), cross-builds native/runtime for aarch64 and runs its ctest suite under qemu, then every Java
# test (java-api/{tokenizer,runtime,core}, trainer, tests, benchmarks) through Maven (android-aar builds the AAR only where ANDROID_NDK_HOME
# is set, else says SKIPPED), fuzzes the Java parsers from their regression inputs (scripts/fuzz-java.sh), then
# scripts/python-checks.sh (HF transformers and PEFT parity; SKIPPED where pip can't). Real-data tests read
# ../shared/data (or -Dmtpf.data.dir) and skip with a message where it is absent.
# Every Maven and Java step uses a JavaCPP cache of this run's own, new and empty, removed at the end: nothing left
# in ~/.javacpp by an earlier run can stand in for a missing build or link step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh --tests

mkdir -p build
cache=$(mktemp -d "$root/build/javacpp-cache.XXXXXX")
tmp=$(mktemp -d "$root/build/ctest-tmp.XXXXXX")  # the native tests write their model folders under TMPDIR
trap 'rm -rf "$cache" "$tmp"' EXIT
export MAVEN_OPTS="${MAVEN_OPTS:-} -Dorg.bytedeco.javacpp.cachedir=$cache"

# The native benchmark programs are left out here (CI's 30 minutes); scripts/bench-train-step.sh builds them.
echo "== native: build against $(cat build/torch-dir): the libraries Java loads"
scripts/build-native.sh "$root/build/native" "${Torch_DIR:-}" -DMTPF_BUILD_TESTS=OFF -DMTPF_BUILD_BENCHMARKS=OFF

# The native suites (core and runtime) run once, in a build instrumented with ASan + UBSan (build/asan): the same
# tests, and every memory error or undefined behaviour on their way fails them. TSan then runs the runtime's
# threaded paths (scripts/test-sanitizers.sh).
scripts/test-sanitizers.sh

echo "== fuzzing, native: every parser of outside files, 10 s each after replaying past findings (scripts/fuzz.sh)"
scripts/fuzz.sh --seconds 10 --no-java

echo "== native/runtime on aarch64: cross-build, ctest under qemu (prints SKIPPED where qemu cannot run)"
scripts/test-runtime-aarch64.sh "$root/build/aarch64"

echo "== python: torch's own dependencies in build/pyenv (torchrun serves the Java test of torchrun restarts)"
scripts/setup-pyenv.sh || echo "note: build/pyenv is incomplete (above); the tests that need torchrun print SKIPPED"

echo "== java: mvn install (all modules and tests but the Jazzer targets, which fuzz-java.sh runs next; JavaCPP cache $cache)"
# The @FuzzTest classes are left to scripts/fuzz-java.sh below: in its fuzzing runs their regression inputs are the
# seeds, replayed first (a plain run here would only replay them a second time: ~1.5 minutes of Jazzer start-ups).
mvn -B -ntp install -Dtorch.dir="${Torch_DIR:-}" -Dnative.tests=OFF -Dnative.benchmarks=OFF -Djavacpp.cachedir="$cache" \
  -Dtest='!*FuzzTest' -Dsurefire.failIfNoSpecifiedTests=false

echo "== fuzzing, Java: Jazzer on every parser of outside files, 6 s each (scripts/fuzz-java.sh)"
scripts/fuzz-java.sh --seconds 6

echo "== python: HF transformers and PEFT parity (SKIPPED where pip cannot)"
scripts/python-checks.sh "$root/build/asan"
