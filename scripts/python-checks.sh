#!/usr/bin/env bash
# The checks that need Python's PyTorch, transformers and PEFT (part of README command 2):
#   scripts/hf_parity.py: the encoder and the libtorch-free runtime against HF transformers (BERT, RoBERTa,
#   DistilBERT; the real models in models/ that are present) and LoRA adapters from mtpf into PEFT and from PEFT into
#   mtpf and the runtime.
# BUILD_DIR is a native/ build with its tests (mtpf_hf_check). Built against this PyTorch's libtorch — the default
# since scripts/setup-libtorch.sh installs it — it is used as it is; built against another libtorch (Debian's
# fallback), native/ is built again against this one into BUILD_DIR-torch2 and its ctest suite run there.
# The packages go into build/pyenv through pip (a CPU PyTorch; pip's own configuration, local wheels included,
# decides where they come from). Where pip cannot get them this prints SKIPPED naming what is missing and exits 0.
#   scripts/python-checks.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/native}
venv=$root/build/pyenv
skip() { echo "[python-checks] SKIPPED: $*" >&2; exit 0; }

"$root/scripts/setup-pyenv.sh" || skip "build/pyenv cannot have torch, transformers and peft (the reason is above)"
torch_dir=$("$venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')/Torch
"$venv/bin/python" -c 'import torch, transformers, peft; print("[python-checks] torch", torch.__version__,
      "transformers", transformers.__version__, "peft", peft.__version__)'

# The libtorch BUILD_DIR was configured with (-DTorch_DIR is cached untyped until find_package types it).
built_with=$(sed -n 's/^Torch_DIR:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null | head -1)
if [ -z "$built_with" ] || [ "$(realpath -m "$built_with")" != "$(realpath -m "$torch_dir")" ] ||
   [ ! -x "$build/native/mtpf_hf_check" ]; then
  build=$build-torch2
  echo "== native against libtorch from PyTorch $("$venv/bin/python" -c 'import torch; print(torch.__version__)'): build and ctest"
  # The runtime comes along so that mtpf_hf_check runs it on PEFT's adapters too (and test_runtime_parity against
  # this libtorch); it reuses the OpenBLAS the main build fetched. The benchmarks are not checks: off here.
  runtime=(-DMTPF_BUILD_RUNTIME=ON)
  if [ -d "$root/build/native/openblas-linux-x86_64" ]; then runtime+=(-DMTPF_OPENBLAS_DIR="$root/build/native/openblas-linux-x86_64")
  elif ! command -v mvn >/dev/null; then
    echo "[python-checks] no OpenBLAS from the main build and no Maven to fetch it: the runtime is left out of these checks"
    runtime=(-DMTPF_BUILD_RUNTIME=OFF)
  fi
  "$root/scripts/build-native.sh" "$build" "$torch_dir" "${runtime[@]}" -DMTPF_BUILD_TESTS=ON -DMTPF_BUILD_BENCHMARKS=OFF
  (cd "$build" && ctest --output-on-failure -j 2)
else
  echo "[python-checks] $build is built against this PyTorch's libtorch: its ctest suite has run; using it"
fi

echo "== HF transformers and PEFT parity"
models=()
for m in "${MTPF_MODELS_DIR:-$root/models}"/all-minilm-l6-v2 "${MTPF_MODELS_DIR:-$root/models}"/bge-small-en-v15; do
  if [ -f "$m/config.json" ]; then models+=(--model "$m"); else echo "[python-checks] real model $m absent: random-init models only"; fi
done
"$venv/bin/python" "$root/scripts/hf_parity.py" --build "$build" --work "$build/hf-parity" "${models[@]}"
