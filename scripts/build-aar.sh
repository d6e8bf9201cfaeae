#!/usr/bin/env bash
# Assembles the Android archive mtpf-runtime-VERSION.aar (arm64-v8a): the libtorch-free runtime, its JNI glue,
# bytedeco's android-arm64 OpenBLAS and JavaCPP libraries, libc++_shared, and the Java runtime API + tokenizer.
# Called by android-aar/pom.xml (mvn package) and by hand once java-api/runtime is built:
#   ANDROID_NDK_HOME=/path/to/ndk scripts/build-aar.sh [--version V] [--runtime-jar JAR] [--tokenizer-jar JAR] [--out DIR]
# Without ANDROID_NDK_HOME it says SKIPPED and builds nothing: a placeholder library is never shipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pom_property() { sed -n "s|.*<$1>\(.*\)</$1>.*|\1|p" "$root/pom.xml" | head -1; }

version=$(sed -n 's|^  <version>\(.*\)</version>|\1|p' "$root/pom.xml" | head -1)
javacpp_version=$(pom_property javacpp.version)
jackson_version=$(pom_property jackson.version)
openblas_version=0.3.31-$javacpp_version
runtime_jar=""
tokenizer_jar=""
out=$root/android-aar/target
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --runtime-jar) runtime_jar=$2; shift 2 ;;
    --tokenizer-jar) tokenizer_jar=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "build-aar: unknown argument $1 (--version V, --runtime-jar JAR, --tokenizer-jar JAR, --out DIR)" >&2; exit 2 ;;
  esac
done
runtime_jar=${runtime_jar:-$root/java-api/runtime/target/mtpf-runtime-$version.jar}
tokenizer_jar=${tokenizer_jar:-$root/java-api/tokenizer/target/mtpf-tokenizer-$version.jar}
api=24   # minSdk of the manifest and the NDK API level of every library we compile
abi=arm64-v8a

ndk=${ANDROID_NDK_HOME:-}
if [ -z "$ndk" ]; then
  echo "[android-aar] SKIPPED: ANDROID_NDK_HOME is not set — the arm64-v8a libraries need the Android NDK" \
       "(r23 or newer; API $api, c++_shared). Set ANDROID_NDK_HOME to the NDK folder to build mtpf-runtime-$version.aar." >&2
  exit 0
fi
toolchain=$ndk/build/cmake/android.toolchain.cmake
llvm=$ndk/toolchains/llvm/prebuilt/linux-x86_64
cxx=$llvm/bin/aarch64-linux-android$api-clang++
libcxx=$llvm/sysroot/usr/lib/aarch64-linux-android/libc++_shared.so
for f in "$toolchain" "$cxx" "$libcxx"; do
  [ -e "$f" ] || { echo "build-aar: ANDROID_NDK_HOME=$ndk is not a usable NDK: $f is missing" >&2; exit 1; }
done
for jar in "$runtime_jar" "$tokenizer_jar"; do
  [ -f "$jar" ] || { echo "build-aar: $jar is missing (build it first: mvn -pl java-api/runtime -am package)" >&2; exit 1; }
done

work=$root/build/android
mkdir -p "$work/deps"
# Artifacts from Maven (the local repository, else Maven Central). -N: resolve once, not per reactor module.
artifact() {  # groupId:artifactId:version[:jar:classifier] -> prints the copied jar's path
  local coords=$1 g a v c file
  IFS=: read -r g a v _ c <<< "$coords"
  file=$work/deps/$a-$v${c:+-$c}.jar
  if [ ! -f "$file" ]; then
    (cd "$root" && mvn -B -ntp -q -N -Dstyle.color=never dependency:copy -Dartifact="$coords" -DoutputDirectory="$work/deps") >&2
  fi
  echo "$file"
}

# 1. bytedeco's android-arm64 OpenBLAS: headers, libopenblas.so and the presets' JNI libraries.
openblas=$work/openblas
"$root/scripts/fetch-openblas.sh" android-arm64 "$openblas"

# 2. libmtpf_runtime.so with the NDK: API 24, c++_shared (shared by the JNI glue, so C++ exceptions thrown by the
#    runtime are caught in the glue: two static C++ runtimes would not agree on type identity).
#    nlohmann/json.hpp comes from the host (header-only) through a folder of its own: adding the host's /usr/include
#    to an NDK compile would put glibc's headers before bionic's.
nlohmann=${MTPF_NLOHMANN_INCLUDE:-/usr/include}
[ -f "$nlohmann/nlohmann/json.hpp" ] ||
  { echo "build-aar: $nlohmann/nlohmann/json.hpp is missing (apt-get install nlohmann-json3-dev, or set MTPF_NLOHMANN_INCLUDE)" >&2; exit 1; }
mkdir -p "$work/include" && ln -sfn "$nlohmann/nlohmann" "$work/include/nlohmann"
echo "[android-aar] building native/runtime for $abi (NDK $ndk)" >&2
cmake -S "$root/native/runtime" -B "$work/runtime" \
  -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DANDROID_ABI=$abi -DANDROID_PLATFORM=android-$api -DANDROID_STL=c++_shared \
  -DCMAKE_BUILD_TYPE=Release -DMTPF_OPENBLAS_DIR="$openblas" -DMTPF_NLOHMANN_INCLUDE="$work/include" \
  -DMTPF_BUILD_TESTS=OFF -DMTPF_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$work/runtime" --target mtpf_runtime -j "${MTPF_JOBS:-2}"
runtime_so=$(find "$work/runtime" -name libmtpf_runtime.so -type f | head -1)
[ -n "$runtime_so" ] || { echo "build-aar: the CMake build produced no libmtpf_runtime.so" >&2; exit 1; }

# 3. The Java classes the AAR carries: the runtime module's and the tokenizer module's, whole (Maven's module
#    dependencies keep the libtorch binding out of both). Only .class files: the runtime jar also holds its
#    linux-x86_64 JNI libraries.
classes=$work/classes
rm -rf "$classes" && mkdir -p "$classes"
(cd "$classes" && unzip -q -o "$runtime_jar" 'io/*.class' && unzip -q -o "$tokenizer_jar" 'io/*.class')
[ -f "$classes/io/mtpf/runtime/nativebind/MtpfRuntimeNative.class" ] ||
  { echo "build-aar: $runtime_jar has no io/mtpf/runtime/nativebind/MtpfRuntimeNative.class" >&2; exit 1; }
[ ! -d "$classes/io/mtpf/nativebind" ] ||
  { echo "build-aar: the runtime's classes include io.mtpf.nativebind, which binds the libtorch core: not for Android" >&2; exit 1; }
javacpp_jar=$(artifact "org.bytedeco:javacpp:$javacpp_version")
openblas_jar=$(artifact "org.bytedeco:openblas:$openblas_version")
# Records need D8's record desugaring below API 34 (java.lang.Record); say which classes are records.
records=$(cd "$classes" && find io -name '*.class' | sed 's/\.class$//' | tr / . |
  xargs javap -cp "$classes" 2>/dev/null | sed -n 's/.* class \([^ ]*\) extends java.lang.Record.*/\1/p' | tr '\n' ' ')
[ -z "$records" ] || echo "[android-aar] note: records in classes.jar (desugared by D8 below API 34): $records" >&2

# 4. The JNI glue (libjnimtpfruntime.so): JavaCPP generates it from MtpfRuntimeNative and compiles it with the NDK's
#    clang for API 24, linking c++_shared instead of android-arm64.properties' c++_static.
echo "[android-aar] compiling the JNI glue with JavaCPP (android-arm64)" >&2
glue=$work/jni
rm -rf "$glue"
java -cp "$javacpp_jar:$openblas_jar" org.bytedeco.javacpp.tools.Builder \
  -classpath "$classes" -properties android-arm64 -d "$glue" \
  -Dplatform.root="$ndk" -Dplatform.compiler="$cxx" \
  -Dplatform.link='c#:m#:dl#:c++_shared#:log#' \
  -Dplatform.includepath="$root/native/runtime/include:$openblas/include" \
  -Dplatform.linkpath="$(dirname "$runtime_so"):$openblas" \
  -Xcompiler -std=c++17 \
  'io.mtpf.runtime.nativebind.*'
[ -f "$glue/libjnimtpfruntime.so" ] || { echo "build-aar: JavaCPP produced no libjnimtpfruntime.so in $glue" >&2; exit 1; }

# 5. Assemble. jni/arm64-v8a holds everything System.loadLibrary needs: JavaCPP's Loader loads libjnijavacpp first,
#    then the inherited OpenBLAS presets (libopenblas, their JNI libraries), then libmtpf_runtime and our glue.
javacpp_android_jar=$(artifact "org.bytedeco:javacpp:$javacpp_version:jar:android-arm64")
stage=$work/aar
rm -rf "$stage" && mkdir -p "$stage/jni/$abi"
cp "$root/android-aar/src/main/AndroidManifest.xml" "$stage/AndroidManifest.xml"
cp "$root/android-aar/src/main/proguard.txt" "$stage/proguard.txt"
: > "$stage/R.txt"   # no Android resources
jar --create --file "$stage/classes.jar" -C "$classes" io
libs=$stage/jni/$abi
cp "$runtime_so" "$glue/libjnimtpfruntime.so" "$libcxx" "$libs/"
cp "$openblas/libopenblas.so" "$libs/"
# Loader.load(MtpfRuntimeNative) initialises every "global" class of the presets it inherits, and each loads its
# JNI library: ask JavaCPP which ones (inheriting openblas brings jniopenblas_nolapack and jniopenblas).
builder=(java -cp "$javacpp_jar:$openblas_jar" org.bytedeco.javacpp.tools.Builder -properties android-arm64)
for global in $("${builder[@]}" -classpath "$classes" -print global io.mtpf.runtime.nativebind.MtpfRuntimeNative); do
  case "$global" in
    org.bytedeco.javacpp.presets.javacpp) ;;   # libjnijavacpp, below
    org.bytedeco.openblas.global.*)
      lib=$("${builder[@]}" -print platform.library "${global/.global./.presets.}")
      cp "$openblas/lib$lib.so" "$libs/" ;;
    *) echo "build-aar: MtpfRuntimeNative inherits $global, whose android-arm64 library this script does not pack" >&2; exit 1 ;;
  esac
done
unzip -q -j -o "$javacpp_android_jar" "lib/$abi/libjnijavacpp.so" -d "$libs"
# Only arm64 ELF objects may go in: a host library by mistake would crash the app at load time.
for so in "$libs"/*.so; do
  readelf -h "$so" 2>/dev/null | grep -q 'Machine: *AArch64' ||
    { echo "build-aar: $so is not an arm64 shared library" >&2; exit 1; }
done

# A pom beside the AAR, for installing it into a Maven repository (see android-aar/README.md): the app then gets
# the Java libraries the classes use. Their native parts are in the AAR, so no platform classifiers here.
mkdir -p "$out"
aar=$out/mtpf-runtime-$version.aar
rm -f "$aar"
jar --create --no-manifest --file "$aar" -C "$stage" .
cat > "$out/mtpf-runtime-$version.pom" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.mtpf</groupId>
  <artifactId>mtpf-runtime</artifactId>
  <version>$version</version>
  <packaging>aar</packaging>
  <dependencies>
    <dependency><groupId>org.bytedeco</groupId><artifactId>javacpp</artifactId><version>$javacpp_version</version></dependency>
    <dependency><groupId>org.bytedeco</groupId><artifactId>openblas</artifactId><version>$openblas_version</version></dependency>
    <dependency><groupId>com.fasterxml.jackson.core</groupId><artifactId>jackson-databind</artifactId><version>$jackson_version</version></dependency>
  </dependencies>
</project>
EOF
echo "[android-aar] $aar ($(du -h "$aar" | cut -f1)): $(ls "$libs" | tr '\n' ' ')" >&2
