#!/usr/bin/env python3
"""The one table of a GPU run (scripts/gpu/run.sh): mtpf's native benchmark beside the HF baseline of the same run.

    python3 scripts/gpu/table.py OUT_DIR        reads bench.jsonl, hf_baseline.json, checks.xml, *.status

Prints Markdown: workload, mtpf ms, baseline ms, ratio (baseline / mtpf: the speed-up), MFU of each, the issue's
target. MFU counts 6 x non-embedding parameters + attention FLOPs per token (hf_baseline.py's formula:
3 * (2 N + 4 layers * L * d)) against the bf16 matmul peak measured in the same run (forward only, a third of it,
for inference). A missing figure is "-" with the reason below the table; nothing is estimated or filled in.
"""
import json
import os
import sys
import xml.etree.ElementTree as ET

out = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OUT", "gpu-work/out")


def read_status(name):
    try:
        return open(os.path.join(out, name + ".status")).read().strip()
    except OSError:
        return "not run"


bench, errors = {}, {}
try:
    for line in open(os.path.join(out, "bench.jsonl")):
        if not line.strip():
            continue
        j = json.loads(line)
        (errors if "error" in j else bench)[j["job"]] = j
except OSError:
    pass
try:
    hf = json.load(open(os.path.join(out, "hf_baseline.json")))
except (OSError, ValueError):
    hf = {}
smoke = any(j.get("device") == "cpu" for j in bench.values())
peak = (bench.get("peak_bf16") or {}).get("tflops")


def hf_ms(*jobs):
    """Sum of the baseline's times for jobs (None if any is missing or failed)."""
    total = 0.0
    for job in jobs:
        r = hf.get(job)
        if not isinstance(r, dict) or "ms" not in r:
            return None
        total += r["ms"]
    return total


def mfu(j, forward_only=False):
    if not j or peak is None or "nonembed_params" not in j:
        return None
    per_token = 3 * (2 * j["nonembed_params"] + 4 * j["layers"] * j["seq"] * j["hidden"])
    if forward_only:
        per_token /= 3
    return per_token * j["tokens"] / (j["ms"] / 1e3) / (peak * 1e12)


def fmt(v, spec="{:.1f}"):
    return "-" if v is None else spec.format(v)


# (label, bench job, baseline jobs summed, MFU kind, target)
rows = [
    ("MTPF-TPL step: 1024 pairs + 256 NER x 128, both LoRA groups, AdamW", "mtpf_tpl_step",
     ["tc_minilm_B1024_L128_bf16", "ner_pf_minilm_B256_L128_C200_bf16"], "train", ">= 2.3x"),
    ("LoRA NER adaptation step: r 32, q/k/MLP, 64 x 128", "ner_lora_adapt_step",
     ["ner_lora_minilm_B64_L128_C9_peft"], None, ">= 10x"),
    ("NER PF step: 256 x 128, 200 classes", "ner_pf_step", ["ner_pf_minilm_B256_L128_C200_bf16"], "train", ""),
    ("contrastive PF step: 1024 pairs x 128", "tc_pf_step", ["tc_minilm_B1024_L128_bf16"], "train", ""),
    ("inference 1 x 128", "infer_b1", ["infer_minilm_B1_L128"], "forward", "<= 1 ms"),
    ("inference 256 x 128", "infer_b256", ["infer_minilm_B256_L128"], "forward", ">= 2x"),
]
short = {"mtpf_tpl_step": "tpl", "ner_lora_adapt_step": "lora", "ner_pf_step": "ner", "tc_pf_step": "tc",
         "infer_b1": "infer1", "infer_b256": "infer256", "infonce_cached_memory": "memory", "peak_bf16": "peak"}

env = hf.get("env", {})
print("## GPU run: mtpf native vs HF eager (same run)\n")
print("- device: %s; torch %s (baseline) / %s (native)" % (
    env.get("gpu", "-"), env.get("torch", "-"), next((j.get("torch") for j in bench.values()), "-")))
print("- stages: build %s; checks %s; bench %s; baseline %s" % (
    read_status("build"), read_status("checks"), read_status("bench"), read_status("baseline")))
try:
    suite = ET.parse(os.path.join(out, "checks.xml")).getroot()
    failed = [tc.get("classname") + "." + tc.get("name") for tc in suite.iter("testcase") if tc.find("failure") is not None]
    skipped = [tc.get("classname") + "." + tc.get("name") for tc in suite.iter("testcase") if tc.find("skipped") is not None]
    print("- correctness checks: %s run, %d failed%s, %d skipped" % (
        suite.get("tests"), len(failed), (" (" + ", ".join(failed) + ")") if failed else "", len(skipped)))
except (OSError, ET.ParseError):
    print("- correctness checks: no result file")
print("- bf16 peak (8192^3 matmul): native %s TFLOP/s, baseline %s TFLOP/s" % (
    fmt(peak, "{:.0f}"), fmt(hf.get("peak_bf16_tflops"), "{:.0f}")))
if smoke:
    print("- CPU smoke run: tiny model and shapes; the times only show every workload runs, they compare with nothing")
print()
print("| workload | mtpf ms | baseline ms | ratio | MFU mtpf | MFU baseline | target |")
print("|---|---|---|---|---|---|---|")
notes = []
for label, job, hf_jobs, kind, target in rows:
    j = bench.get(job)
    mine = j["ms"] if j else None
    base = hf_ms(*hf_jobs)
    ratio = base / mine if (mine and base and not smoke) else None
    m = mfu(j, forward_only=(kind == "forward")) if kind else None
    hf_mfu = hf.get(hf_jobs[0], {}).get("mfu") if (kind == "train" and len(hf_jobs) == 1) else None
    if job == "infer_b256" and j and base:
        target += " seq/s (ratio = seq/s ratio)"
    print("| %s | %s | %s | %s | %s | %s | %s |" % (
        label, fmt(mine, "{:.2f}"), fmt(base, "{:.2f}"), fmt(ratio, "{:.2f}x"),
        fmt(None if m is None else 100 * m, "{:.0f}%"), fmt(None if hf_mfu is None else 100 * hf_mfu, "{:.0f}%"),
        target))
    if not j:
        notes.append("%s: mtpf %s" % (job, ("failed: " + errors[short[job]]["error"]) if short[job] in errors else "not run"))
    if base is None:
        notes.append("%s: baseline %s" % (job, read_status("baseline") if not hf else
                                          "missing or failed: " + ", ".join(hf_jobs)))
    if len(hf_jobs) > 1:
        notes.append("%s: baseline = HF eager doing the same work as two steps (%s), without LoRAs" % (job, " + ".join(hf_jobs)))
    if kind is None and j:
        notes.append("%s: no MFU (frozen backbone: 6 N FLOPs per token does not apply)" % job)

mem = bench.get("infonce_cached_memory")
hf_mem = (hf.get("tc_minilm_B256_L128_fp32") or {}).get("peak_mem_gb")
mine_gb = mem.get("peak_gb") if mem else None
print("| peak memory: cached InfoNCE 1024 pairs (GB) vs HF eager 256 pairs | %s | %s | %s | | | <= 1.0 |" % (
    fmt(mine_gb, "{:.2f}"), fmt(hf_mem, "{:.2f}"), fmt(mine_gb / hf_mem if (mine_gb and hf_mem) else None, "{:.2f}")))
notes.append("memory: baseline is hf_baseline.py's only 256-pair job, tc_minilm_B256_L128_fp32 (fp32); ratio = mtpf / HF")
if mem is None:
    notes.append("memory: mtpf %s" % (("failed: " + errors["memory"]["error"]) if "memory" in errors else "not run"))
elif mine_gb is None:
    notes.append("memory: mtpf " + mem.get("note", "no figure"))
print()
for n in notes:
    print("- " + n)
