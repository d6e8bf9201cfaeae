#!/usr/bin/env bash
# The replication study (docs/replication.md): the paper's strategy comparison at the scale of a 2-core CPU.
#   1. pseudo-labels: bge-small-en-v1.5 over the NER train splits of ../shared/data, k = 200, once for every
#      strategy, with the clusters' purity against CoNLL-2003's gold entity types;
#   2. pre-finetuning of all-minilm-l6-v2 with each strategy (configs/study/*.yaml: same data, steps, batches),
#   3. each followed by its evaluation (the base model first) (`mtpf evaluate --suite study`: NER on CoNLL-2003, MIT
#      Restaurant, CrossNER, BioNLP at 1 %, 5 % and 10 % of their train splits, 3 seeds; every TC set, MTEB's
#      protocol); results.json of each run copied to docs/replication/results/<run>/;
#   4. the report: `mtpf report` in the paper's layout (docs/replication/report/).
# Resumable: a stage whose results exist is skipped, an interrupted evaluation keeps its finished adaptations
# (evaluate --resume), and an interrupted pre-finetuning run continues from its last
# checkpoint. Weights stay under runs/study/ (ignored); only results.json files, metrics and the report are committed.
#   scripts/study.sh [--only STAGE] [--runs "base pf-tc ..."] [--data DIR]
#   STAGE: labels | pretrain | evaluate | report (default: all, in this order)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data=../shared/data
only=all
runs="base pf-tc pf-ner mtpf mtpf-pcgrad mtpf-tpl pf-l"
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    *) echo "study: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -d "$data/conll2003" ] || { echo "study: $data has no conll2003 folder (the study needs ../shared/data)" >&2; exit 1; }
mtpf="$root/mtpf"
work=runs/study
results=docs/replication/results
mkdir -p "$work" "$results"
stamp() { echo "study: $(date -u +%H:%M:%S) $*" >&2; }
want() { [ "$only" = all ] || [ "$only" = "$1" ]; }

if want labels; then
  if [ -f "$work/pseudo-labels/purity.json" ]; then
    stamp "pseudo-labels: $work/pseudo-labels exists"
  else
    stamp "pseudo-labels: teacher bge-small-en-v15 over the NER train splits of $data, k = 200"
    "$mtpf" pseudo-label --teacher bge-small-en-v15 --data "$data" --clusters 200 --max-sentences 20000 \
      --max-length 64 --seed 42 --out "$work/pseudo-labels" --gold "$data/conll2003/train.txt.gz"
  fi
  mkdir -p docs/replication
  cp "$work/pseudo-labels/purity.json" docs/replication/purity.json
fi

# One run at a time: pre-finetune it, then evaluate it, so that every finished run can already be compared with the
# base model.
pretrain_run() {
  local r=$1
  if [ -f "$work/pretrain/$r/backbone/config.json" ]; then
    stamp "pretrain $r: done"
  else
    stamp "pretrain $r (configs/study/$r.yaml)"
    local start=$SECONDS
    "$mtpf" pretrain --config "configs/study/$r.yaml" --resume
    stamp "pretrain $r: $((SECONDS - start)) s"
  fi
  mkdir -p "$results/$r"
  cp "$work/pretrain/$r/metrics.jsonl" "$work/pretrain/$r/run-env.json" "$results/$r/"
  rm -rf "$results/$r/plots"
  cp -r "$work/pretrain/$r/plots" "$results/$r/"
}

# A results.json is written after every adaptation; it is final once no dataset is still pending or running.
evaluated() {
  [ -f "$1/results.json" ] && ! grep -Eq '"status" *: *"(pending|running)' "$1/results.json"
}

evaluate_run() {
  local r=$1 args=()
  if evaluated "$results/$r"; then
    stamp "evaluate $r: done"
    return
  fi
  if [ "$r" = base ]; then
    "$mtpf" models pull all-minilm-l6-v2 >&2
    args=(--model models/all-minilm-l6-v2)
  else
    local out=$work/pretrain/$r
    [ -f "$out/backbone/config.json" ] || { stamp "evaluate $r: not pre-finetuned yet, skipped"; return; }
    args=(--model "$out/backbone")
    [ -d "$out/adapters/ner" ] && args+=(--adapter "ner=$out/adapters/ner")
    [ -d "$out/adapters/tc" ] && args+=(--adapter "tc=$out/adapters/tc")
  fi
  stamp "evaluate $r"
  local start=$SECONDS
  "$mtpf" evaluate "${args[@]}" --suite study --data "$data" --seeds 3 --fractions 0.01,0.05,0.1 \
    --out "$work/eval/$r" --label "$r" --resume
  mkdir -p "$results/$r"
  cp "$work/eval/$r/results.json" "$work/eval/$r/results.md" "$results/$r/"
  stamp "evaluate $r: $((SECONDS - start)) s"
}

for r in $runs; do
  [ "$r" != base ] && want pretrain && pretrain_run "$r"
  want evaluate && evaluate_run "$r"
done

if want report; then
  evals=() pretrains=()
  for r in $runs; do
    [ -f "$results/$r/results.json" ] && evals+=("$results/$r")
    [ -f "$work/pretrain/$r/metrics.jsonl" ] && pretrains+=("$work/pretrain/$r")
  done
  if [ ${#evals[@]} -eq 0 ]; then
    stamp "report: no evaluated run yet"
  else
    baseline=()
    [ -f "$results/base/results.json" ] && baseline=(--baseline "$results/base")
    "$mtpf" report "${evals[@]}" "${pretrains[@]}" "${baseline[@]}" --out docs/replication/report
  fi
fi
