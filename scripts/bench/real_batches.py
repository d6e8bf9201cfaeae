#!/usr/bin/env python3
"""Writes the real batches ../shared/baselines/hf_cpu_train_step.py --data trains on, for mtpf_bench_train_step --batches.

The same sampling, step for step (random.Random(0): per step rng.sample of the TC pairs, then of the NER sentences),
the same texts (pairs_debian_descriptions: short description, first paragraph; CoNLL-2003 train sentences), the
same tokenizer (the model folder's, through transformers) truncated to --seq and padded to each batch's longest
row, as HF's data collators do. So both programs train on identical token ids.

    real_batches.py MODEL_DIR DATA_DIR OUT --tc 16 --ner 16 --seq 128 --steps 6

OUT (little-endian int64): per step a header [tc, Ta, Tb, ner, Tn], then a_ids, a_mask [tc, Ta], b_ids, b_mask
[tc, Tb], ner_ids, ner_mask [ner, Tn].
"""
import argparse
import gzip
import random
import struct

from transformers import AutoTokenizer

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("data")
ap.add_argument("out")
ap.add_argument("--tc", type=int, default=16)
ap.add_argument("--ner", type=int, default=16)
ap.add_argument("--seq", type=int, default=128)
ap.add_argument("--steps", type=int, default=6)
a = ap.parse_args()

tok = AutoTokenizer.from_pretrained(a.model)
with gzip.open(f"{a.data}/pairs_debian_descriptions/pairs.tsv.gz", "rt") as f:
    pairs = [l.rstrip("\n").split("\t")[1:3] for l in f][1:]
sents, cur = [], []
with gzip.open(f"{a.data}/conll2003/train.txt.gz", "rt") as f:
    for l in f:
        if l.strip():
            cur.append(l.split()[0])
        elif cur:
            sents.append(" ".join(cur)); cur = []

rng = random.Random(0)


def batch(texts):
    b = tok(texts, truncation=True, max_length=a.seq, padding="longest", return_tensors="np")
    return b["input_ids"].astype("<i8"), b["attention_mask"].astype("<i8")


with open(a.out, "wb") as f:
    for _ in range(a.steps):
        pp = rng.sample(pairs, a.tc)
        (ai, am), (bi, bm) = batch([p[0] for p in pp]), batch([p[1] for p in pp])
        ni, nm = batch(rng.sample(sents, a.ner))
        f.write(struct.pack("<5q", a.tc, ai.shape[1], bi.shape[1], a.ner, ni.shape[1]))
        for t in (ai, am, bi, bm, ni, nm):
            f.write(t.tobytes())
