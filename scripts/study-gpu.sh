#!/usr/bin/env bash
# The replication study at paper scale on a GPU host (docs/replication.md): all-minilm-l6-v2 pre-finetuned with each
# strategy at the paper's batches (1024 pairs / 256 NER rows, GradCache chunks of 128; configs/*.yaml), then the
# paper's evaluation (all 21 datasets, App. A recipe; NER also at 1 %, 5 %, 10 % of train, 3 seeds), then the report.
# Resumable like scripts/study.sh: finished stages are skipped, interrupted runs continue from their checkpoints.
#   scripts/study-gpu.sh [--steps N (default 100000)] [--device cuda:0] [--runs "base pf-tc ..."]
# Time, estimated (not measured here: no GPU was lent when this was written): one MTPF-TPL step is
# (2 x 1024 + 256) x 128 = 295K tokens x ~6 x 11M non-embedding parameters ~ 19 TFLOP plus attention; at 30-40 % of an
# H100's bf16 peak that is ~0.05-0.07 s, so 100K steps take ~1.5-2 h per strategy (PF-TC / PF-NER less), ~8-10 h for
# the six, plus ~1 h of evaluation per model. scripts/gpu/run.sh measures the real step time on the host.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
steps=100000 device=cuda runs="base pf-tc pf-ner mtpf mtpf-pcgrad mtpf-tpl pf-l" data=../shared/data
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    *) echo "study-gpu: unknown option $1" >&2; exit 2 ;;
  esac
done
mtpf="$root/mtpf" work=runs/study-paper results=docs/replication/paper-scale
mkdir -p "$work" "$results"
for r in $runs; do
  [ "$r" = base ] || [ -f "$work/pretrain/$r/backbone/config.json" ] ||
    "$mtpf" pretrain --config "configs/$r.yaml" --steps "$steps" --device "$device" --data "$data" \
      --out "$work/pretrain/$r" --resume
done
for r in $runs; do
  [ -f "$results/$r/results.json" ] && continue
  if [ "$r" = base ]; then
    "$mtpf" models pull all-minilm-l6-v2 >&2
    args=(--model models/all-minilm-l6-v2)
  else
    out=$work/pretrain/$r
    args=(--model "$out/backbone")
    [ -d "$out/adapters/ner" ] && args+=(--adapter "ner=$out/adapters/ner")
    [ -d "$out/adapters/tc" ] && args+=(--adapter "tc=$out/adapters/tc")
  fi
  "$mtpf" evaluate "${args[@]}" --suite paper --data "$data" --device "$device" --seeds 3 \
    --fractions 0.01,0.05,0.1,1.0 --out "$work/eval/$r" --label "$r"
  mkdir -p "$results/$r"
  cp "$work/eval/$r/results.json" "$work/eval/$r/results.md" "$results/$r/"
done
evals=()
for r in $runs; do [ -f "$results/$r/results.json" ] && evals+=("$results/$r"); done
"$mtpf" report "${evals[@]}" --baseline "$results/base" --out "$results/report"
