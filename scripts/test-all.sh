#!/usr/bin/env bash
# README command (2): every test. Installs what it needs (scripts/setup.sh --tests: packages, and PyTorch's libtorch
# 2.x in build/pyenv), builds native/ against that libtorch and runs its ctest suite, cross-builds native/runtime for
# aarch64 and runs its ctest suite under qemu, then every Java test (java-api, trainer, tests, benchmarks) through
# Maven (android-aar builds the AAR only where ANDROID_NDK_HOME is set, else says SKIPPED), then
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

echo "== native: build against $(cat build/torch-dir) and ctest"
scripts/build-native.sh "$root/build/native" "${Torch_DIR:-}" -DMTPF_BUILD_TESTS=ON -DMTPF_BUILD_BENCHMARKS=ON
(cd build/native && TMPDIR=$tmp ctest --output-on-failure -j 2)

echo "== native/runtime on aarch64: cross-build, ctest under qemu (prints SKIPPED where qemu cannot run)"
scripts/test-runtime-aarch64.sh "$root/build/aarch64"

echo "== java: mvn install (all modules and tests; JavaCPP cache $cache)"
mvn -B -ntp install -Dtorch.dir="${Torch_DIR:-}" -Dnative.tests=ON -Djavacpp.cachedir="$cache"

echo "== python: HF transformers and PEFT parity (SKIPPED where pip cannot)"
scripts/python-checks.sh "$root/build/native"
