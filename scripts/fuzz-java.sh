#!/usr/bin/env bash
# Fuzzes the Java parsers with Jazzer through its JUnit integration: each @FuzzTest method in fuzzing mode
# (JAZZER_FUZZ=1), one JVM per target (Jazzer fuzzes one per run), two at a time, after `mvn install` built the modules.
#   scripts/fuzz-java.sh [--seconds N] [--only TEXT]   N seconds per target (default 20); only targets containing TEXT
# Findings: Jazzer writes the failing input into the target's ...FuzzTestInputs/<method>/ resource folder — from
# then on a regression input replayed by every plain test run — and the run fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=20
only=
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "fuzz-java: unknown option $1" >&2; exit 2 ;;
  esac
done
targets=(
  "java-api/tokenizer io.mtpf.tokenizer.TokenizerFuzzTest#tokenizerJson"
  "java-api/tokenizer io.mtpf.tokenizer.TokenizerFuzzTest#vocabTxt"
  "java-api/tokenizer io.mtpf.tokenizer.TokenizerFuzzTest#wordPieceOnAnyText"
  "trainer io.mtpf.data.ReadersFuzzTest#conll"
  "trainer io.mtpf.data.ReadersFuzzTest#nerJsonLines"
  "trainer io.mtpf.data.ReadersFuzzTest#pairs"
  "trainer io.mtpf.data.ReadersFuzzTest#classification"
  "trainer io.mtpf.data.ReadersFuzzTest#wordCorpus"
  "trainer io.mtpf.pretrain.RunConfigFuzzTest#runConfig"
  "trainer io.mtpf.models.OnnxGraphReaderFuzzTest#onnxImport"
)
if [ -n "$only" ]; then
  chosen=()
  for t in "${targets[@]}"; do [[ "$t" == *"$only"* ]] && chosen+=("$t"); done
  [ ${#chosen[@]} -gt 0 ] || { echo "fuzz-java: no target contains '$only'" >&2; exit 2; }
  targets=("${chosen[@]}")
fi
logs=$root/build/fuzz-java
mkdir -p "$logs"
cd "$root"
# Two targets at a time (one core each: the fuzzing JVM runs one thread).
fuzz_one() {
  local module=${1%% *} test=${1#* }
  local name=${test##*.} log=$logs/${test##*.}.log
  # The libFuzzer budget goes in through Jazzer's JUnit configuration (jazzer.internal.arg.N: argv of the fuzzer).
  # Each run its own surefire folder: two runs in one module would otherwise delete each other's booter jar.
  if JAZZER_FUZZ=1 mvn -o -q -pl "$module" surefire:test -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
      -DtempDir="surefire-fuzz-${name//#/-}" \
      -Djazzer.internal.arg.0=jazzer -Djazzer.internal.arg.1=-max_total_time="$seconds" \
      -Djazzer.internal.arg.2=-max_len=65536 -Djazzer.internal.arg.3=-print_final_stats=1 > "$log" 2>&1; then
    local execs
    execs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    echo "ok $test: ${execs:-?} executions, no finding" > "$logs/$name.result"
  else
    echo "FAIL $test: FINDING or failure (log: $log)" > "$logs/$name.result"
  fi
}
jobs_max=$(( $(nproc) < 2 ? 1 : 2 ))
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  fuzz_one "$t" &
done
wait
status=0
for t in "${targets[@]}"; do
  test=${t#* } name=${t##*.}
  r=$(cat "$logs/$name.result" 2>/dev/null || echo "FAIL $test: no result")
  echo "[fuzz-java] ${r#* }" >&2
  if [ "${r%% *}" != ok ]; then
    status=1
    # What Jazzer and surefire said, without the start-up chatter (instrumentation, hooks, corpus folders).
    grep -av -E '^INFO: |^#[0-9]+ ' "$logs/$name.log" | tail -40 >&2
  fi
done
exit $status
