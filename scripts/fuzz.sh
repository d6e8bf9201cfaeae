#!/usr/bin/env bash
# Fuzzes every parser of outside files: the native ones with libFuzzer + ASan + UBSan (native/fuzz), the Java ones
# with Jazzer through JUnit (@FuzzTest classes; scripts/fuzz-java.sh). Each target first replays its regression
# inputs (native/fuzz/regressions/<target>: every crash found so far), then fuzzes from seeds made of real files.
#   scripts/fuzz.sh [--seconds N]      per target (default 20; CI: all targets together stay under 5 minutes)
#                   [--runs N]         per target, instead of a time budget (the note's long run: --runs 1000000)
#                   [--targets a,b]    native targets only (default: all; core_* need libtorch, build/torch-dir)
#                   [--no-java]
# Exit 1 on a finding: the input is saved as build/fuzz/findings/<target>/crash-*; make it a regression input.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=20 runs="" targets="runtime_safetensors,runtime_config,runtime_adapter,core_safetensors,core_config,core_adapter"
java=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --no-java) java=0; shift ;;
    *) echo "fuzz: unknown option $1" >&2; exit 2 ;;
  esac
done
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$probe/p.cpp"
if ! command -v clang++ > /dev/null || ! clang++ -fsanitize=fuzzer,address "$probe/p.cpp" -o "$probe/p" 2> /dev/null; then
  echo "fuzz: SKIPPED the native targets: clang++ with libFuzzer is missing (apt-get install clang libclang-rt-14-dev; scripts/setup.sh --tests tries)" >&2
  targets=""
fi
status=0
summary=()
if [ -n "$targets" ]; then
build=$root/build/fuzz
core=ON
torch_dir=$(cat "$root/build/torch-dir" 2>/dev/null || true)
if [ -z "$torch_dir" ]; then
  echo "fuzz: SKIPPED core_* targets: no libtorch recorded in build/torch-dir (run scripts/setup.sh)" >&2
  core=OFF targets=$(echo "$targets" | tr ',' '\n' | grep -v '^core_' | paste -sd, -)
fi
echo "[fuzz] building the targets (clang, ASan + UBSan) in $build" >&2
cmake -S "$root/native/fuzz" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DMTPF_FUZZ_CORE=$core \
  ${torch_dir:+-DTorch_DIR="$torch_dir"} > "$build.configure.log" 2>&1 || { tail -20 "$build.configure.log" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" > "$build.build.log" 2>&1 || { tail -30 "$build.build.log" >&2; exit 1; }
python3 "$root/native/fuzz/make_seeds.py" "$build/seeds" >&2

# libtorch's own allocations are not ours to judge (it keeps caches for the process's life): leaks off; the
# sanitizers' other checks stay on and abort.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:symbolize=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Every execution writes its input to a file (the parsers read paths): memory-backed where the machine has it.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPDIR=$(mktemp -d /dev/shm/mtpf-fuzz.XXXXXX); else TMPDIR=$(mktemp -d "$build/tmp.XXXXXX"); fi
export TMPDIR
trap 'rm -rf "$TMPDIR" "$probe"' EXIT
# One target per core at a time (each fuzzer is one process); each writes its summary line to a file.
fuzz_one() {
  local t=$1 corpus=$build/corpus/$1 findings=$build/findings/$1 regress=$root/native/fuzz/regressions/$1
  mkdir -p "$corpus" "$findings"
  rm -f "$findings/result"
  # Replay: every input that ever failed, once.
  if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
    if ! "$build/$t" "$regress"/* > "$findings/replay.log" 2>&1; then
      echo "FAIL $t: a regression input fails again (log: $findings/replay.log)" > "$findings/result"
      return
    fi
  fi
  local budget=(-max_total_time="$seconds"); [ -n "$runs" ] && budget=(-runs="$runs")
  local log=$findings/fuzz.log
  if "$build/$t" "${budget[@]}" -rss_limit_mb=2560 -malloc_limit_mb=2048 -max_len=65536 -timeout=10 \
      -artifact_prefix="$findings/" -print_final_stats=1 "$corpus" "$build/seeds/$t" > "$log" 2>&1; then
    local execs cov
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    echo "ok $t: $execs executions, coverage $cov edges, corpus $(ls "$corpus" | wc -l) inputs, no finding" > "$findings/result"
  else
    echo "FAIL $t: FINDING — $(ls "$findings" | grep -E '^(crash|leak|timeout|oom)-' | head -1) (log: $log)" > "$findings/result"
  fi
}
jobs_max=$(nproc)
for t in ${targets//,/ }; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  fuzz_one "$t" &
done
wait
for t in ${targets//,/ }; do
  r=$(cat "$build/findings/$t/result" 2>/dev/null || echo "FAIL $t: no result")
  summary+=("${r#* }")
  if [ "${r%% *}" != ok ]; then
    status=1
    grep -h -m3 -E 'FINDING|ERROR: AddressSanitizer|runtime error|SUMMARY' "$build/findings/$t"/*.log >&2 || true
  fi
done
printf '[fuzz] %s\n' "${summary[@]}" >&2
fi
if [ "$java" = 1 ]; then
  "$root/scripts/fuzz-java.sh" --seconds "$seconds" || status=1
fi
exit $status
