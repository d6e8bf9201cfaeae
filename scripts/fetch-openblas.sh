#!/usr/bin/env bash
# Fetches bytedeco's OpenBLAS build (org.bytedeco:openblas:0.3.31-1.5.13, classifier PLATFORM) through Maven and
# unpacks its native folder into DEST, so that DEST/include/cblas.h and DEST/libopenblas.so* exist. Idempotent.
#   scripts/fetch-openblas.sh PLATFORM DEST      PLATFORM: linux-x86_64 | linux-arm64 | android-arm64
set -euo pipefail
version=0.3.31-1.5.13
platform=${1:?usage: fetch-openblas.sh PLATFORM DEST}
dest=${2:?usage: fetch-openblas.sh PLATFORM DEST}
case "$platform" in
  linux-x86_64 | linux-arm64) inner="org/bytedeco/openblas/$platform" ;;
  android-arm64) inner="lib/arm64-v8a" ;;
  *) echo "fetch-openblas: unknown platform '$platform' (linux-x86_64, linux-arm64, android-arm64)" >&2; exit 1 ;;
esac
if [ -f "$dest/include/cblas.h" ] && ls "$dest"/libopenblas.so* >/dev/null 2>&1; then exit 0; fi

jar="$HOME/.m2/repository/org/bytedeco/openblas/$version/openblas-$version-$platform.jar"
if [ ! -f "$jar" ]; then
  if ! command -v mvn >/dev/null; then echo "fetch-openblas: mvn is missing (apt-get install maven)" >&2; exit 1; fi
  tmp_out=$(mktemp -d)
  trap 'rm -rf "$tmp_out"' EXIT
  mvn -B -ntp -q dependency:copy -Dartifact="org.bytedeco:openblas:$version:jar:$platform" -DoutputDirectory="$tmp_out"
  jar="$tmp_out/openblas-$version-$platform.jar"
  [ -f "$jar" ] || { echo "fetch-openblas: maven did not produce $jar" >&2; exit 1; }
fi
if ! command -v unzip >/dev/null; then echo "fetch-openblas: unzip is missing (apt-get install unzip)" >&2; exit 1; fi

# Unpack beside DEST, then move into place in one step, so an interrupted run never leaves half a folder.
mkdir -p "$(dirname "$dest")"
stage=$(mktemp -d "$(dirname "$dest")/.openblas-XXXXXX")
unzip -q -o "$jar" "$inner/*" -d "$stage"
[ -f "$stage/$inner/include/cblas.h" ] || { echo "fetch-openblas: $jar has no $inner/include/cblas.h" >&2; rm -rf "$stage"; exit 1; }
rm -rf "$dest"
mv "$stage/$inner" "$dest"
rm -rf "$stage"
echo "fetch-openblas: OpenBLAS $version ($platform) in $dest"
