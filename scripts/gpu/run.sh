#!/usr/bin/env bash
# One GPU run of issue 6, inside 8 minutes: build native/ against the host's PyTorch (no Java, no network), run the
# CUDA correctness checks (tests/test_fast_paths.cpp), the native benchmark of every workload
# (bench/bench_gpu.cpp) and the Python baseline (hf_baseline.py) one after the other, and print one table.
#   scripts/gpu/prepare.sh              first, where ../shared is (fills gpu-work/, carried to the device)
#   bash scripts/gpu/run.sh             on the CUDA host (device tool: carry ["gpu-work"], timeout_s 540)
#   bash scripts/gpu/run.sh --cpu-smoke anywhere: the same stages on the CPU at tiny shapes, against the local
#                                       libtorch (build/native); the baseline row then says it was not run
# Every stage is time-boxed and a failed stage does not stop the later ones. Logs, bench.jsonl, checks.xml,
# hf_baseline.json and table.md go to $OUT (the device tool's folder) or else gpu-work/out.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mode=gpu
[ "${1:-}" = "--cpu-smoke" ] && mode=cpu
out=${OUT:-$root/gpu-work/out}
mkdir -p "$out"
deadline=${MTPF_GPU_DEADLINE_S:-470}  # the issue's 8 minutes, less the table
[ "$mode" = cpu ] && deadline=${MTPF_GPU_DEADLINE_S:-3600}  # a shared CPU host may need long to build
SECONDS=0
say() { echo "[run.sh ${SECONDS}s] $*" | tee -a "$out/run.log"; }

# Runs a stage under `timeout`: at most $1 seconds, and never past the deadline less $2 seconds kept for the
# stages after it. Output goes to $out/$3.log; the last lines are shown.
stage() {
  local box=$1 keep=$2 name=$3
  shift 3
  local left=$((deadline - SECONDS - keep))
  [ "$left" -lt "$box" ] && box=$left
  if [ "$box" -lt 10 ]; then
    say "$name: skipped, no time left"
    echo "skipped: no time left" > "$out/$name.status"
    return 1
  fi
  say "$name: up to ${box}s"
  timeout --kill-after=10 "$box" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ]; then echo ok > "$out/$name.status"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then echo "timed out after ${box}s" > "$out/$name.status"
  else echo "failed (exit $rc)" > "$out/$name.status"; fi
  say "$name: $(cat "$out/$name.status")"
  tail -n 15 "$out/$name.log" | sed "s/^/  [$name] /"
  return $rc
}

jobs_n=$(nproc 2>/dev/null || echo 4)
if [ "$mode" = gpu ]; then
  build=${MTPF_GPU_BUILD:-$root/build/gpu}
  prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)' 2>/dev/null) || { say "python3 cannot import torch"; prefix=; }
  say "torch cmake prefix: ${prefix:-none}; $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1)"
  [ -d /usr/local/cuda ] && export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda} && export PATH=$CUDA_HOME/bin:$PATH
  export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}  # no CUDA code is compiled; skips arch detection
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  [ -f gpu-work/hf_baseline.py ] || say "gpu-work/hf_baseline.py missing: run scripts/gpu/prepare.sh locally and carry gpu-work"
  configure=(cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix"
    -DMTPF_BUILD_TESTS=ON -DMTPF_BUILD_BENCHMARKS=ON -DMTPF_BUILD_RUNTIME=OFF -DMTPF_NLOHMANN_JSON_INCLUDE="$root/gpu-work/include"
    -DMTPF_GTEST_SOURCE_DIR="$root/gpu-work/googletest")
  # Only what this run needs: the library, the test program and the GPU benchmark.
  stage 230 230 build bash -c "$(printf '%q ' "${configure[@]}") && cmake --build $(printf '%q' "$build") -j $jobs_n --target mtpf_tests mtpf_bench_gpu"
  bench_args=(--device cuda --precision bf16 --iters 20 --warmup 5)
else
  build=${MTPF_GPU_BUILD:-$root/build/native}
  [ -f "$build/CMakeCache.txt" ] || scripts/build-native.sh "$build" > "$out/configure.log" 2>&1
  stage 900 60 build cmake --build "$build" -j "$jobs_n" --target mtpf_tests mtpf_bench_gpu
  bench_args=(--smoke --device cpu)
fi
tests=$(find "$build" -name mtpf_tests -type f -perm -u+x | head -1)
bench=$(find "$build" -name mtpf_bench_gpu -type f -perm -u+x | head -1)

if [ -n "$tests" ]; then
  stage 60 180 checks "$tests" --gtest_filter='FastPathCpu.*:CudaPath.*' --gtest_output="xml:$out/checks.xml"
else
  say "checks: not built"; echo "not built" > "$out/checks.status"
fi
rm -f "$out/bench.jsonl"
if [ -n "$bench" ]; then
  stage 120 120 bench "$bench" "${bench_args[@]}" --out "$out/bench.jsonl"
else
  say "bench: not built"; echo "not built" > "$out/bench.status"
fi
if [ "$mode" = gpu ] && python3 -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  if [ -f gpu-work/hf_baseline.py ]; then
    # The jobs the table compares with, in the script's own order (each writes hf_baseline.json as it ends).
    stage 170 0 baseline python3 gpu-work/hf_baseline.py --out "$out" --jobs \
      tc_minilm_B1024_L128_bf16,tc_minilm_B256_L128_fp32,ner_pf_minilm_B256_L128_C200_bf16,ner_lora_minilm_B64_L128_C9_peft,infer_minilm_B1_L128,infer_minilm_B256_L128
  else
    echo "not run (gpu-work/hf_baseline.py missing: scripts/gpu/prepare.sh)" > "$out/baseline.status"
  fi
else
  echo "not run (no CUDA)" > "$out/baseline.status"
fi
say "table"
python3 "$root/scripts/gpu/table.py" "$out" | tee "$out/table.md"
say "done; files in $out"
