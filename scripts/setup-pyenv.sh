#!/usr/bin/env bash
# Makes sure build/pyenv (the project's Python environment, where scripts/setup-libtorch.sh put PyTorch's libtorch)
# can import PyTorch 2.13 (CPU), HF transformers 5.18, PEFT 0.21 and safetensors: the references the checks and the
# training-step benchmark compare mtpf with. pip's own configuration (local wheel stores included) decides the
# source. Exit 0 when they import; otherwise prints why on stderr and exits 3 (callers skip with that reason).
#   scripts/setup-pyenv.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/build/pyenv
source "$root/scripts/pyenv.env"
packages=("${MTPF_PYENV_PACKAGES[@]}")
if ! command -v python3 >/dev/null; then echo "python3 is missing (apt-get install python3 python3-venv)" >&2; exit 3; fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" 2>/dev/null || { rm -rf "$venv"; echo "python3 cannot make a venv (apt-get install python3-venv)" >&2; exit 3; }
fi
"$venv/bin/python" -c 'import torch, transformers, peft, safetensors' 2>/dev/null && exit 0
echo "[pyenv] installing ${packages[*]} into $venv" >&2
# The CPU build of PyTorch (the default one on PyPI carries CUDA, gigabytes of it); no retries where offline.
if ! "$venv/bin/pip" install -q --retries 0 --timeout 20 --extra-index-url https://download.pytorch.org/whl/cpu \
     "${packages[@]}" > "$venv.log" 2>&1; then
  tail -3 "$venv.log" >&2
  echo "pip could not install ${packages[*]} (log: $venv.log)" >&2
  exit 3
fi
