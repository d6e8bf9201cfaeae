#!/usr/bin/env python3
"""mtpf's encoder against HF transformers' own BERT, RoBERTa and DistilBERT.

Needs Python with torch, transformers and safetensors (a CUDA host with PyTorch has them; no network).
For each architecture it writes a random-init model with save_pretrained (safetensors), runs HF on a padded
batch of random ids, dumps inputs and every hidden state, and runs native mtpf_hf_check on the same folder.

    python3 scripts/hf_parity.py [--build build/native] [--work build/hf-parity]
"""
import argparse
import json
import pathlib
import subprocess
import sys

import torch
from safetensors.torch import save_file
from transformers import (BertConfig, BertModel, DistilBertConfig, DistilBertModel, RobertaConfig,
                          RobertaModel)

SMALL = dict(vocab_size=1000, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
             intermediate_size=128, max_position_embeddings=130)


def models():
    yield "bert", BertModel(BertConfig(**SMALL, type_vocab_size=2)), 0
    yield "roberta", RobertaModel(RobertaConfig(**SMALL, type_vocab_size=1, pad_token_id=1)), 1
    yield "distilbert", DistilBertModel(DistilBertConfig(vocab_size=1000, dim=64, n_layers=3, n_heads=4,
                                                         hidden_dim=128, max_position_embeddings=128)), 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/native")
    ap.add_argument("--work", default="build/hf-parity")
    args = ap.parse_args()
    check = pathlib.Path(args.build) / "native" / "mtpf_hf_check"
    if not check.exists():
        sys.exit(f"{check} not found: build native/ first (scripts/build-native.sh)")
    torch.manual_seed(0)
    failed = 0
    for name, model, pad in models():
        folder = pathlib.Path(args.work) / name
        model.eval()
        # Non-trivial LayerNorm and bias values, so a wrong name or transposition cannot hide behind init.
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        model.save_pretrained(folder, safe_serialization=True)
        lengths = [17, 9, 1, 12]
        T = max(lengths)
        ids = torch.randint(3, 1000, (len(lengths), T))
        mask = torch.zeros_like(ids)
        for i, n in enumerate(lengths):
            mask[i, :n] = 1
            ids[i, n:] = pad
        kwargs = dict(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        ref = {"input_ids": ids, "attention_mask": mask}
        if name == "bert":
            types = torch.zeros_like(ids)
            types[:, T // 2:] = 1
            kwargs["token_type_ids"] = types
            ref["token_type_ids"] = types
        with torch.no_grad():
            out = model(**kwargs)
        ref["last_hidden_state"] = out.last_hidden_state.contiguous()
        for i, h in enumerate(out.hidden_states):
            ref[f"hidden_states.{i}"] = h.contiguous()
        save_file(ref, str(folder / "reference.safetensors"))
        r = subprocess.run([str(check), str(folder), str(folder / "reference.safetensors")],
                           capture_output=True, text=True)
        print(r.stdout.strip() or r.stderr.strip())
        failed += r.returncode != 0
    print(json.dumps({"hf_parity": "fail" if failed else "pass", "failed": failed}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
