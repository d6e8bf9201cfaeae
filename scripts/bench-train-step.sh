#!/usr/bin/env bash
# One MTPF-TPL training step, mtpf against what a user would run instead: ../shared/baselines/hf_cpu_train_step.py
# (HF transformers eager + PEFT on PyTorch's CPU build), alternately, in one run, on the same machine:
#   full    random ids, every row full length (--seq)
#   real    real pairs and CoNLL-2003 sentences from the data folder, padded per batch as HF's collators do; both
#           programs train on the same token ids (scripts/bench/real_batches.py); tokens/s counts real tokens
# each in fp32 and in bf16 autocast. Prints one table: median step, tokens/s, mtpf/HF speed, peak resident memory
# of each process (getrusage of the child: the same measure for both).
#   scripts/bench-train-step.sh [--model DIR] [--data DIR] [--baseline FILE] [--threads 2] [--tc 16] [--ner 16]
#                               [--seq 128] [--iters 5] [--rounds 2] [--cases full,real] [--precisions fp32,bf16]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=$root/models/all-minilm-l6-v2
data=$root/../shared/data
baseline=$root/../shared/baselines/hf_cpu_train_step.py
threads=2 tc=16 ner=16 seq=128 iters=5 rounds=2 cases=full,real precisions=fp32,bf16
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2 ;; --data) data=$2 ;; --baseline) baseline=$2 ;; --threads) threads=$2 ;; --tc) tc=$2 ;;
    --ner) ner=$2 ;; --seq) seq=$2 ;; --iters) iters=$2 ;; --rounds) rounds=$2 ;; --cases) cases=$2 ;;
    --precisions) precisions=$2 ;;
    *) echo "bench-train-step: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -f "$baseline" ] || { echo "bench-train-step: the baseline $baseline is missing (--baseline FILE)" >&2; exit 1; }
"$root/scripts/setup-pyenv.sh" || { echo "bench-train-step: the HF baseline needs build/pyenv with torch, transformers, peft" >&2; exit 1; }
py=$root/build/pyenv/bin/python
if [ ! -f "$model/config.json" ]; then
  case "$model" in
    "$root/models/"*) "$root/mtpf" models pull "$(basename "$model")" ;;
    *) echo "bench-train-step: $model holds no config.json" >&2; exit 1 ;;
  esac
fi
echo "[bench] building mtpf_bench_train_step (build/native)" >&2
"$root/scripts/build-native.sh" "$root/build/native" "" -DMTPF_BUILD_BENCHMARKS=ON > "$root/build/bench-build.log" 2>&1 ||
  { tail -20 "$root/build/bench-build.log" >&2; exit 1; }
bench=$root/build/native/native/mtpf_bench_train_step

work=$root/build/bench-train-step
mkdir -p "$work"
results=$work/results.jsonl
: > "$results"
if [[ ",$cases," == *",real,"* ]]; then
  if [ -f "$data/pairs_debian_descriptions/pairs.tsv.gz" ] && [ -f "$data/conll2003/train.txt.gz" ]; then
    "$py" "$root/scripts/bench/real_batches.py" "$model" "$data" "$work/real.bin" --tc "$tc" --ner "$ner" --seq "$seq" \
      --steps $((iters + 1))
  else
    echo "[bench] SKIPPED real batches: $data lacks pairs_debian_descriptions or conll2003 (--data DIR)" >&2
    cases=${cases//real/}
  fi
fi

# Runs one program, appending its JSON line with the case, the side and its peak resident memory.
measure() {
  local side=$1 case=$2 precision=$3; shift 3
  "$py" - "$side" "$case" "$precision" "$@" >> "$results" <<'PY'
import json, resource, subprocess, sys
side, case, precision, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
p = subprocess.run(cmd, capture_output=True, text=True)
if p.returncode != 0:
    sys.exit(f"[bench] {side} {case} {precision} failed:\n{p.stderr[-2000:]}")
line = json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][-1])
line.update(side=side, case=case, precision=precision,
            peak_mib=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
print(json.dumps(line))
PY
  tail -1 "$results" | cut -c1-200 >&2
}

for case in ${cases//,/ }; do
  for precision in ${precisions//,/ }; do
    # The baseline's model stays in eval mode (from_pretrained, never .train()): no dropout. The same work for mtpf.
    common=(--threads "$threads"); hf_extra=(); mtpf_extra=(--precision "$precision" --dropout 0)
    [ "$precision" = bf16 ] && hf_extra+=(--bf16)
    if [ "$case" = real ]; then hf_extra+=(--data "$data"); mtpf_extra+=(--batches "$work/real.bin"); fi
    for r in $(seq 1 "$rounds"); do
      # Alternate which goes first, so neither always runs on a warmer (or a more throttled) machine.
      for side in $( [ $((r % 2)) -eq 1 ] && echo "mtpf hf" || echo "hf mtpf"); do
        if [ "$side" = mtpf ]; then
          measure mtpf "$case" "$precision" "$bench" "$model" "${common[@]}" "${mtpf_extra[@]}" --tc-batch "$tc" \
            --ner-batch "$ner" --seq "$seq" --iters "$iters"
        else
          measure hf "$case" "$precision" "$py" "$baseline" "$model" "${common[@]}" "${hf_extra[@]}" --tc "$tc" \
            --ner "$ner" --seq "$seq" --iters "$iters"
        fi
      done
    done
  done
done

"$py" - "$results" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$threads" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"\nMTPF-TPL step (16 pairs + 16 NER rows unless set), {sys.argv[2]}, {sys.argv[3]} threads, dropout off on both "
      "sides; per cell the median over rounds (range over rounds in brackets)")
print("| batches | precision | mtpf step ms | HF+PEFT step ms | mtpf tokens/s | HF tokens/s | mtpf / HF speed | peak MiB mtpf / HF |")
print("|---|---|---|---|---|---|---|---|")
for case in dict.fromkeys(r["case"] for r in rows):
    for prec in dict.fromkeys(r["precision"] for r in rows if r["case"] == case):
        m = [r for r in rows if r["case"] == case and r["precision"] == prec and r["side"] == "mtpf"]
        h = [r for r in rows if r["case"] == case and r["precision"] == prec and r["side"] == "hf"]
        med = lambda xs, k: statistics.median(x[k] for x in xs)
        rng = lambda xs, k: f"{min(x[k] for x in xs):.0f}–{max(x[k] for x in xs):.0f}"
        ratio = med(m, "tokens_per_s") / med(h, "tokens_per_s")
        print(f"| {case} | {prec} | {med(m, 'median_ms'):.0f} ({rng(m, 'median_ms')}) | {med(h, 'median_ms'):.0f} "
              f"({rng(h, 'median_ms')}) | {med(m, 'tokens_per_s'):.0f} | {med(h, 'tokens_per_s'):.0f} | "
              f"**{ratio:.2f}x** | {med(m, 'peak_mib'):.0f} / {med(h, 'peak_mib'):.0f} |")
PY
