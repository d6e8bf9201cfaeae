#!/usr/bin/env bash
# README command (2): every test. Installs what it needs, builds native/ and runs its ctest suite, then
# every Java test (java-api, trainer, tests) through Maven. Real-data tests read ../shared/data (or
# -Dmtpf.data.dir) and skip with a message where it is absent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh

echo "== native: build and ctest"
scripts/build-native.sh "$root/build/native" "${Torch_DIR:-}"
(cd build/native && ctest --output-on-failure -j 2)

echo "== java: mvn install (all modules and tests)"
mvn -B -ntp install -Dtorch.dir="${Torch_DIR:-}"
