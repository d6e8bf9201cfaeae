#!/usr/bin/env bash
# README command (2): every test. Installs what it needs, builds native/ and runs its ctest suite, cross-builds
# native/runtime for aarch64 and runs its ctest suite under qemu, then every Java test (java-api, trainer, tests)
# through Maven (android-aar builds the AAR only where ANDROID_NDK_HOME is set, else says SKIPPED), then
# scripts/python-checks.sh (libtorch 2.x build + ctest, HF transformers and PEFT parity; SKIPPED where pip can't). Real-data
# tests read ../shared/data (or -Dmtpf.data.dir) and skip with a message where it is absent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh

echo "== native: build and ctest"
scripts/build-native.sh "$root/build/native" "${Torch_DIR:-}"
(cd build/native && ctest --output-on-failure -j 2)

echo "== native/runtime on aarch64: cross-build, ctest under qemu (prints SKIPPED where qemu cannot run)"
scripts/test-runtime-aarch64.sh "$root/build/aarch64"

echo "== java: mvn install (all modules and tests)"
mvn -B -ntp install -Dtorch.dir="${Torch_DIR:-}"

echo "== python: native/ against PyTorch's libtorch 2.x, HF transformers and PEFT parity (SKIPPED where pip cannot)"
scripts/python-checks.sh "$root/build/native-torch2"
