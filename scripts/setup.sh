#!/usr/bin/env bash
# Installs what mtpf needs on Debian/Ubuntu (apt-get), or stops naming what is missing.
#   scripts/setup.sh            install missing packages (as root, or through sudo)
#   MTPF_NO_INSTALL=1 ...       only check
set -euo pipefail

# Debian bookworm names. libopenblas0-pthread matters: without it libtorch's matmuls run on the reference
# BLAS, about 16x slower. Java 17 and Maven drive the build; cmake/g++ build native/.
packages=(openjdk-17-jdk-headless maven cmake g++ make libtorch-dev libopenblas0-pthread libgtest-dev nlohmann-json3-dev)
# The aarch64 cross-build of native/runtime (scripts/test-runtime-aarch64.sh) runs its tests under qemu-user. Optional:
# where they cannot be installed, that step prints SKIPPED instead of failing the whole setup.
cross_packages=(g++-aarch64-linux-gnu qemu-user)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A JDK other than Debian's (e.g. Temurin) serves as well as openjdk-17.
if [[ " ${missing[*]} " == *" openjdk-17-jdk-headless "* ]] && command -v javac >/dev/null &&
   [ "$(javac -version 2>&1 | sed -E 's/javac ([0-9]+).*/\1/')" -ge 17 ]; then
  missing=("${missing[@]/openjdk-17-jdk-headless}")
fi
missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))
cross_missing=()
for p in "${cross_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || cross_missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && [ ${#cross_missing[@]} -eq 0 ] && exit 0
if [ ${#missing[@]} -eq 0 ]; then
  # Only optional packages are missing: try them, never fail on them.
  if [ "${MTPF_NO_INSTALL:-}" != 1 ] && command -v apt-get >/dev/null; then
    sudo=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo=sudo
    if [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; then
      echo "mtpf setup: installing ${cross_missing[*]} (aarch64 cross-build)" >&2
      { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
          "${cross_missing[@]}" >/dev/null; } ||
        echo "mtpf setup: could not install ${cross_missing[*]}; the aarch64 test step will be skipped" >&2
    fi
  fi
  exit 0
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
    echo "mtpf setup: could not install ${cross_missing[*]}; the aarch64 test step will be skipped" >&2
fi
