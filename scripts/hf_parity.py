#!/usr/bin/env python3
"""mtpf's encoder and LoRA adapters against HF transformers and PEFT themselves.

Needs Python with torch, transformers, safetensors and peft (a CUDA host with PyTorch has the first three;
`scripts/python-checks.sh` installs all four with pip where it can).
For BERT, RoBERTa and DistilBERT it writes a random-init model with save_pretrained (safetensors) — and for every
--model DIR it reads that real model folder — then, on a padded batch of random ids, with native mtpf_hf_check:
  1. encoder: HF's last hidden state and every hidden state against mtpf's;
  2. mtpf -> PEFT: mtpf writes a LoRA adapter (random non-zero A and B), PeftModel.from_pretrained loads it, and
     the adapted HF model must equal mtpf running the same adapter;
  3. PEFT -> mtpf: PEFT writes an adapter (get_peft_model + save_pretrained, suffix targets, layers_to_transform,
     rsLoRA), mtpf loads it and must equal the PEFT model.
Where mtpf_hf_check was built beside the libtorch-free runtime, every comparison runs the runtime too.
Bar: max |diff| <= 1e-4 in fp32 everywhere; an adapter that changes nothing fails too.

    python3 scripts/hf_parity.py [--build build/native] [--work build/hf-parity] [--model models/all-minilm-l6-v2]
"""
import argparse
import copy
import json
import pathlib
import subprocess
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import (AutoModel, BertConfig, BertModel, DistilBertConfig, DistilBertModel, RobertaConfig,
                          RobertaModel)

SMALL = dict(vocab_size=1000, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
             intermediate_size=128, max_position_embeddings=130)
# What PEFT is asked to adapt in check 3: suffixes as users write them, value included (mtpf's default has none).
PEFT_TARGETS = {"bert": ["query", "value", "intermediate.dense"], "roberta": ["query", "value", "intermediate.dense"],
                "distilbert": ["q_lin", "v_lin", "lin1"]}


def tiny_models():
    yield "bert", BertModel(BertConfig(**SMALL, type_vocab_size=2))
    yield "roberta", RobertaModel(RobertaConfig(**SMALL, type_vocab_size=1, pad_token_id=1))
    yield "distilbert", DistilBertModel(DistilBertConfig(vocab_size=1000, dim=64, n_layers=3, n_heads=4,
                                                         hidden_dim=128, max_position_embeddings=128))


def inputs(model):
    cfg = model.config
    pad = cfg.pad_token_id if cfg.pad_token_id is not None else 0
    lengths = [17, 9, 1, 12]
    T = max(lengths)
    ids = torch.randint(3, min(cfg.vocab_size, 1000), (len(lengths), T))
    mask = torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        ids[i, n:] = pad
    kwargs = dict(input_ids=ids, attention_mask=mask)
    if cfg.model_type == "bert":
        types = torch.zeros_like(ids)
        types[:, T // 2:] = 1
        kwargs["token_type_ids"] = types
    return kwargs


def reference(model, kwargs, path):
    with torch.no_grad():
        out = model(**kwargs, output_hidden_states=True)
    ref = {k: v.contiguous() for k, v in kwargs.items()}
    ref["last_hidden_state"] = out.last_hidden_state.clone()
    for i, h in enumerate(out.hidden_states):
        ref[f"hidden_states.{i}"] = h.clone()
    save_file(ref, str(path))
    return out.last_hidden_state


def run(cmd):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    print(r.stdout.strip() or r.stderr.strip(), flush=True)
    return r.returncode == 0


def check_model(check, name, model, folder, work):
    """The three checks on one model saved in `folder`, writing into `work`; returns the number that failed."""
    model.eval()
    work.mkdir(parents=True, exist_ok=True)
    kwargs = inputs(model)
    base = reference(model, kwargs, work / "reference.safetensors")
    failed = not run([check, folder, work / "reference.safetensors"])

    # 2. mtpf writes, PEFT reads.
    mine = work / "adapter-from-mtpf"
    if run([check, "--export-adapter", folder, mine]):
        peft_model = PeftModel.from_pretrained(copy.deepcopy(model), str(mine)).eval()
        adapted = reference(peft_model, kwargs, work / "reference-peft-read-mtpf.safetensors")
        moved = (adapted - base).abs().max().item()
        print(json.dumps({"model": name, "check": "mtpf adapter in PEFT", "output_moved_by": moved}))
        failed += moved < 1e-3 or not run([check, folder, work / "reference-peft-read-mtpf.safetensors", mine])
    else:
        failed += 1

    # 3. PEFT writes, mtpf reads.
    layers = list(range(1, model.config.num_hidden_layers if hasattr(model.config, "num_hidden_layers")
                        else model.config.n_layers))
    config = LoraConfig(r=4, lora_alpha=8, use_rslora=True, target_modules=PEFT_TARGETS[model.config.model_type],
                        layers_to_transform=layers)
    peft_model = get_peft_model(copy.deepcopy(model), config)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_" in n:
                p.normal_(0.0, 0.1)
    peft_model.eval()
    theirs = work / "adapter-from-peft"
    peft_model.save_pretrained(str(theirs))
    adapted = reference(peft_model, kwargs, work / "reference-peft.safetensors")
    moved = (adapted - base).abs().max().item()
    print(json.dumps({"model": name, "check": "PEFT adapter in mtpf", "output_moved_by": moved}))
    failed += moved < 1e-3 or not run([check, folder, work / "reference-peft.safetensors", theirs])
    return int(failed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/native")
    ap.add_argument("--work", default="build/hf-parity")
    ap.add_argument("--model", action="append", default=[], help="a real HF model folder to check too")
    args = ap.parse_args()
    check = pathlib.Path(args.build) / "native" / "mtpf_hf_check"
    if not check.exists():
        sys.exit(f"{check} not found: build native/ first (scripts/build-native.sh)")
    torch.manual_seed(0)
    failed = 0
    for name, model in tiny_models():
        folder = pathlib.Path(args.work) / name
        # Non-trivial LayerNorm and bias values, so a wrong name or transposition cannot hide behind init.
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        model.save_pretrained(folder, safe_serialization=True)
        failed += check_model(check, name, model, folder, folder)
    for path in args.model:
        folder = pathlib.Path(path)
        if not (folder / "config.json").exists():
            print(json.dumps({"model": path, "skipped": "no config.json there"}))
            continue
        failed += check_model(check, folder.name, AutoModel.from_pretrained(folder), folder,
                              pathlib.Path(args.work) / folder.name)
    print(json.dumps({"hf_parity": "fail" if failed else "pass", "failed": failed}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
