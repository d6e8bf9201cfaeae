#!/usr/bin/env bash
# Local step before a GPU session: fills gpu-work/ (git-ignored; pass carry ["gpu-work"] to the device run) with what
# the device has no other way to get, since it has no network and ../shared does not travel:
#   gpu-work/hf_baseline.py       the Python baseline (../shared/gpu/hf_baseline.py), run beside the benchmark
#   gpu-work/include/nlohmann/    nlohmann_json headers (native/ needs them; the device may lack the package)
#   gpu-work/googletest/          GoogleTest sources, built with the native tests when the device has no GTest
#   scripts/gpu/prepare.sh [SHARED_DIR]        (default: ../shared beside the repository)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${1:-$root/../shared}
work=$root/gpu-work
[ -f "$shared/gpu/hf_baseline.py" ] || { echo "prepare: $shared/gpu/hf_baseline.py not found (pass the shared folder)" >&2; exit 1; }
[ -d /usr/include/nlohmann ] || { echo "prepare: /usr/include/nlohmann missing (apt-get install nlohmann-json3-dev)" >&2; exit 1; }
[ -d /usr/src/googletest ] || { echo "prepare: /usr/src/googletest missing (apt-get install libgtest-dev)" >&2; exit 1; }
mkdir -p "$work/include"
cp "$shared/gpu/hf_baseline.py" "$work/hf_baseline.py"
rm -rf "$work/include/nlohmann" "$work/googletest"
cp -r /usr/include/nlohmann "$work/include/nlohmann"
cp -r /usr/src/googletest "$work/googletest"
(cd "$work" && sha256sum hf_baseline.py > hf_baseline.py.sha256)
echo "prepare: gpu-work ready ($(du -sh "$work" | cut -f1)); on the device: bash scripts/gpu/run.sh (carry gpu-work)"
