#!/usr/bin/env bash
# Installs what mtpf needs on Debian/Ubuntu (apt-get), or stops naming what is missing; then chooses the libtorch
# (scripts/setup-libtorch.sh: PyTorch's own libtorch 2.x in build/pyenv, recorded in build/torch-dir).
#   scripts/setup.sh            install what building and running mtpf needs (as root, or through sudo)
#   scripts/setup.sh --tests    also what the tests use (the aarch64 cross-compiler and qemu-user, optional)
#   MTPF_NO_INSTALL=1 ...       only check
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# Debian bookworm names. Java 17 and Maven drive the build; cmake/g++ build native/; unzip unpacks OpenBLAS for the
# runtime; python3 with venv and pip installs PyTorch's libtorch into the project (setup-libtorch.sh); libgloo-dev
# has the Gloo headers that libtorch's c10d header needs for data-parallel training (PyTorch's wheels lack them).
packages=(openjdk-17-jdk-headless maven cmake g++ make libgtest-dev nlohmann-json3-dev unzip libgloo-dev)
# The aarch64 cross-build of native/runtime (scripts/test-runtime-aarch64.sh) runs its tests under qemu-user. Optional:
# where they cannot be installed, that step prints SKIPPED instead of failing the whole setup.
# clang with libFuzzer builds the native fuzz targets (scripts/fuzz.sh; also optional, SKIPPED where missing).
cross_packages=(g++-aarch64-linux-gnu qemu-user clang libclang-rt-14-dev)
[ "${1:-}" = --tests ] || cross_packages=()
# Only what this Debian/Ubuntu release has (Ubuntu ships libFuzzer inside clang's own packages).
available=()
for p in "${cross_packages[@]}"; do
  apt-cache show "$p" >/dev/null 2>&1 || dpkg-query -W "$p" >/dev/null 2>&1 && available+=("$p")
done
cross_packages=("${available[@]}")

install_packages() {
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # A JDK other than Debian's (e.g. Temurin) serves as well as openjdk-17.
  if [[ " ${missing[*]} " == *" openjdk-17-jdk-headless "* ]] && command -v javac >/dev/null &&
     [ "$(javac -version 2>&1 | sed -E 's/javac ([0-9]+).*/\1/')" -ge 17 ]; then
    missing=("${missing[@]/openjdk-17-jdk-headless}")
  fi
  # Any python3 that makes venvs with pip serves (pyenv's, Debian's with python3-venv).
  if ! { command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; }; then
    missing+=(python3 python3-venv)
  fi
  missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))
  cross_missing=()
  for p in "${cross_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || cross_missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && [ ${#cross_missing[@]} -eq 0 ] && return 0
  if [ ${#missing[@]} -eq 0 ]; then
    # Only optional packages are missing: try them, never fail on them.
    if [ "${MTPF_NO_INSTALL:-}" != 1 ] && command -v apt-get >/dev/null; then
      sudo=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo=sudo
      if [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; then
        echo "mtpf setup: installing ${cross_missing[*]} (aarch64 cross-build, fuzzing)" >&2
        { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            "${cross_missing[@]}" >/dev/null; } ||
          echo "mtpf setup: could not install ${cross_missing[*]}; the aarch64 and fuzzing steps will be skipped" >&2
      fi
    fi
    return 0
  fi

  if ! command -v apt-get >/dev/null; then
    echo "mtpf setup: missing ${missing[*]}, and this is not a Debian/Ubuntu machine (no apt-get): install them by hand." >&2
    exit 1
  fi
  if [ "${MTPF_NO_INSTALL:-}" = 1 ]; then
    echo "mtpf setup: missing packages: ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo=sudo; else
      echo "mtpf setup: missing packages ${missing[*]}; run as root or install them: apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "mtpf setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ ${#cross_missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${cross_missing[@]}" >/dev/null ||
      echo "mtpf setup: could not install ${cross_missing[*]}; the aarch64 and fuzzing steps will be skipped" >&2
  fi
}

install_packages
"$here/setup-libtorch.sh"
