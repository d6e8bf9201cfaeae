#!/usr/bin/env bash
# Chooses the libtorch that native/ builds against and records its CMake folder in build/torch-dir, so that
# build-native.sh, Maven, the CLI and the tests all find the same one without environment variables (libmtpf keeps
# that folder's lib/ in its RUNPATH, so the JVM loads exactly that libtorch, never a second copy).
#   scripts/setup-libtorch.sh          choose once (a recorded choice that still exists is kept)
#   MTPF_LIBTORCH=debian ...           force the fallback; Torch_DIR=... overrides for one build without recording
# In order of preference:
#   1. a CUDA PyTorch already installed for python3 (GPU hosts): its own libtorch;
#   2. PyTorch's CPU wheel, pip-installed into build/pyenv (a folder of the project, not system-wide; pip's own
#      configuration decides the source, local wheel stores included). Only the wheel's libtorch is needed here, so
#      its Python dependencies are left to scripts/python-checks.sh;
#   3. fallback where pip cannot get it: Debian's libtorch-dev 1.13 (apt-get). It works, but trains about 2.3x
#      slower than PyTorch 2.x's libtorch on the same CPU (no oneDNN fast paths, no fused AdamW on the CPU).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
record=$root/build/torch-dir
venv=$root/build/pyenv
source "$root/scripts/pyenv.env"
version=$MTPF_TORCH_VERSION
mkdir -p "$root/build"

if [ -f "$record" ]; then
  dir=$(cat "$record")
  if [ "$dir" = debian ] || [ -f "$dir/TorchConfig.cmake" ]; then exit 0; fi
  echo "mtpf setup: the recorded libtorch ($dir) is gone; choosing again" >&2
fi

wheel_torch_dir() { ls -d "$venv"/lib/python3*/site-packages/torch/share/cmake/Torch 2>/dev/null | head -1; }

if [ "${MTPF_LIBTORCH:-}" != debian ]; then
  # 1. GPU host: the CUDA PyTorch that is already there.
  if command -v python3 >/dev/null &&
     cuda_dir=$(python3 -c 'import torch, torch.utils; assert torch.version.cuda; print(torch.utils.cmake_prefix_path + "/Torch")' 2>/dev/null) &&
     [ -f "$cuda_dir/TorchConfig.cmake" ]; then
    echo "$cuda_dir" > "$record"
    echo "mtpf setup: libtorch from the installed CUDA PyTorch ($cuda_dir)" >&2
    exit 0
  fi
  # 2. PyTorch's CPU wheel in build/pyenv.
  if [ -z "$(wheel_torch_dir)" ] && command -v python3 >/dev/null; then
    echo "mtpf setup: installing PyTorch $version (CPU) into $venv for its libtorch (about a minute)" >&2
    if [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" 2>/dev/null; then
      # The CPU build (PyPI's default one carries gigabytes of CUDA); no retries where a package index is offline.
      "$venv/bin/pip" install -q --retries 0 --timeout 20 --no-deps --extra-index-url https://download.pytorch.org/whl/cpu \
        "torch==$version" > "$root/build/pyenv-torch.log" 2>&1 || tail -2 "$root/build/pyenv-torch.log" >&2
    else
      echo "mtpf setup: python3 cannot make a venv (apt-get install python3-venv)" >&2
    fi
  fi
  if dir=$(wheel_torch_dir) && [ -n "$dir" ] && [ -f "$dir/TorchConfig.cmake" ]; then
    echo "$dir" > "$record"
    echo "mtpf setup: libtorch $version from PyTorch's wheel ($dir)" >&2
    exit 0
  fi
  echo "mtpf setup: pip could not install torch==$version (log: build/pyenv-torch.log); falling back to Debian's" \
       "libtorch-dev 1.13 (about 2.3x slower training)" >&2
fi

# 3. Debian's libtorch-dev. libopenblas0-pthread matters: without it its matmuls run on the reference BLAS (~16x slower).
fallback=(libtorch-dev libopenblas0-pthread)
missing=()
for p in "${fallback[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo=sudo
  if ! command -v apt-get >/dev/null || { [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; } || [ "${MTPF_NO_INSTALL:-}" = 1 ]; then
    echo "mtpf setup: no libtorch: pip cannot install torch==$version and ${missing[*]} is missing" \
         "(apt-get install ${missing[*]}, or set Torch_DIR to a folder holding TorchConfig.cmake)" >&2
    exit 1
  fi
  echo "mtpf setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo debian > "$record"
echo "mtpf setup: libtorch from Debian's libtorch-dev (recorded in build/torch-dir; delete it to choose again)" >&2
