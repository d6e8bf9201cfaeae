#!/usr/bin/env bash
# Fuzzes the Java parsers with Jazzer through its JUnit integration: each @FuzzTest method in fuzzing mode
# (JAZZER_FUZZ=1), one JVM per target (Jazzer fuzzes one per run), after `mvn install` built the modules.
#   scripts/fuzz-java.sh [--seconds N]   per target (default 20)
# Findings: Jazzer writes the failing input into the target's ...FuzzTestInputs/<method>/ resource folder — from
# then on a regression input replayed by every plain test run — and the run fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=20
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    *) echo "fuzz-java: unknown option $1" >&2; exit 2 ;;
  esac
done
targets=(
  "java-api io.mtpf.tokenizer.TokenizerFuzzTest#tokenizerJson"
  "java-api io.mtpf.tokenizer.TokenizerFuzzTest#vocabTxt"
  "java-api io.mtpf.tokenizer.TokenizerFuzzTest#wordPieceOnAnyText"
  "trainer io.mtpf.data.ReadersFuzzTest#conll"
  "trainer io.mtpf.data.ReadersFuzzTest#nerJsonLines"
  "trainer io.mtpf.data.ReadersFuzzTest#pairs"
  "trainer io.mtpf.data.ReadersFuzzTest#classification"
  "trainer io.mtpf.data.ReadersFuzzTest#wordCorpus"
  "trainer io.mtpf.pretrain.RunConfigFuzzTest#runConfig"
  "trainer io.mtpf.models.OnnxGraphReaderFuzzTest#onnxImport"
)
logs=$root/build/fuzz-java
mkdir -p "$logs"
cd "$root"
status=0
for t in "${targets[@]}"; do
  module=${t%% *} test=${t#* }
  log=$logs/${test##*.}.log
  # The libFuzzer budget goes in through Jazzer's JUnit configuration (jazzer.internal.arg.N: argv of the fuzzer).
  if JAZZER_FUZZ=1 mvn -o -q -pl "$module" surefire:test -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
      -Djazzer.internal.arg.0=jazzer -Djazzer.internal.arg.1=-max_total_time="$seconds" \
      -Djazzer.internal.arg.2=-max_len=65536 -Djazzer.internal.arg.3=-print_final_stats=1 > "$log" 2>&1; then
    execs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' -r "$root/$module/target/surefire-reports" "$log" 2>/dev/null |
      grep -o '[0-9]*$' | tail -1)
    echo "[fuzz-java] $test: ${execs:-?} executions, no finding" >&2
  else
    status=1
    echo "[fuzz-java] $test: FINDING or failure (log: $log)" >&2
    grep -a -m5 -E 'FuzzTest|Exception|Error|expected' "$log" >&2 || tail -20 "$log" >&2
  fi
done
exit $status
