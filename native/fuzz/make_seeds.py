#!/usr/bin/env python3
"""Seed corpora for the fuzz targets (native/fuzz), written into OUT/<target>/.

Real files where they exist: every config.json under the models folder, the safetensors header of each
model.safetensors (its first tensors, cut short: the header is what the reader parses first), the adapter_config.json
and head JSON of a real run. Beside them small well-formed files in the tiny shapes the adapter targets load into
(2-layer BERT, hidden 8), in F32, F16 and BF16, so the fuzzer starts from inputs that pass every check.
    make_seeds.py OUT [--models DIR] [--runs DIR]
"""
import argparse, json, pathlib, random, struct

SEP = b"\n--8<--\n"


def safetensors(tensors, dtype="F32", metadata=None):
    """tensors: name -> (shape, values). Little-endian, as the format says."""
    fmt = {"F32": ("<f", 4), "F16": ("<e", 2), "BF16": (None, 2)}[dtype]
    header, blobs, offset = {}, [], 0
    for name, (shape, values) in tensors.items():
        if dtype == "BF16":
            blob = b"".join(struct.pack("<f", v)[2:] for v in values)
        else:
            blob = b"".join(struct.pack(fmt[0], v) for v in values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def tiny_adapter(rng, r=2, layers=(1,), modules=("attention.self.query", "attention.self.key", "intermediate.dense",
                                                 "output.dense"), dtype="F32", prefix=""):
    shapes = {"attention.self.query": (8, 8), "attention.self.key": (8, 8), "attention.self.value": (8, 8),
              "attention.output.dense": (8, 8), "intermediate.dense": (8, 16), "output.dense": (16, 8)}
    tensors, targets = {}, []
    for l in layers:
        for m in modules:
            name = f"encoder.layer.{l}.{m}"
            targets.append(name)
            fan_in, fan_out = shapes[m]
            tensors[f"base_model.model.{prefix}{name}.lora_A.weight"] = ([r, fan_in], [rng.uniform(-1, 1) for _ in range(r * fan_in)])
            tensors[f"base_model.model.{prefix}{name}.lora_B.weight"] = ([fan_out, r], [rng.uniform(-1, 1) for _ in range(fan_out * r)])
    config = {"base_model_name_or_path": "tiny-bert", "bias": "none", "fan_in_fan_out": False, "inference_mode": True,
              "init_lora_weights": True, "layers_to_transform": None, "lora_alpha": 2 * r, "lora_dropout": 0.0,
              "modules_to_save": None, "peft_type": "LORA", "r": r, "target_modules": targets,
              "task_type": "FEATURE_EXTRACTION", "use_rslora": False}
    return json.dumps(config, indent=2).encode(), safetensors(tensors, dtype)


def tiny_head(rng, labels=("O", "B-PER", "I-PER"), dtype="F32"):
    n = len(labels)
    meta = json.dumps({"name": "ner", "in_features": 8, "num_labels": n, "labels": list(labels)}).encode()
    weights = safetensors({"weight": ([n, 8], [rng.uniform(-1, 1) for _ in range(8 * n)]),
                           "bias": ([n], [rng.uniform(-1, 1) for _ in range(n)])}, dtype)
    return meta, weights


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    root = pathlib.Path(__file__).resolve().parents[2]
    ap.add_argument("--models", default=str(root / "models"))
    ap.add_argument("--runs", default=str(root / "runs"))
    a = ap.parse_args()
    out, rng = pathlib.Path(a.out), random.Random(0)
    seeds = {t: [] for t in ("safetensors", "config", "adapter")}

    for cfg in sorted(pathlib.Path(a.models).glob("*/config.json")):
        seeds["config"].append(cfg.read_bytes())
    for st in sorted(pathlib.Path(a.models).glob("*/model.safetensors")):
        with open(st, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            seeds["safetensors"].append(struct.pack("<Q", n) + f.read(n) + f.read(256))
    # DistilBERT and RoBERTa spellings, as HF writes them (none of those models is on this machine).
    seeds["config"].append(json.dumps({"model_type": "distilbert", "vocab_size": 32, "dim": 8, "n_layers": 2,
                                       "n_heads": 2, "hidden_dim": 16, "max_position_embeddings": 16,
                                       "activation": "gelu", "sinusoidal_pos_embds": False}).encode())
    seeds["config"].append(json.dumps({"model_type": "roberta", "vocab_size": 32, "hidden_size": 8,
                                       "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16,
                                       "max_position_embeddings": 18, "pad_token_id": 1, "type_vocab_size": 1,
                                       "hidden_act": "gelu", "position_embedding_type": "absolute"}).encode())
    for dtype in ("F32", "F16", "BF16"):
        seeds["safetensors"].append(safetensors({"a": ([2, 3], [rng.uniform(-2, 2) for _ in range(6)]),
                                                 "b": ([4], [1.0, -0.5, 3.25, 0.0])}, dtype, {"format": "pt"}))
    seeds["safetensors"].append(safetensors({}))

    real_configs = sorted(pathlib.Path(a.runs).glob("*/adapters/*/adapter_config.json"))[:2]
    real_heads = sorted(pathlib.Path(a.runs).glob("*/adapters/*/head_*.json"))[:1]
    for i, dtype in enumerate(("F32", "F16", "BF16")):
        config, weights = tiny_adapter(rng, r=1 + i, dtype=dtype, prefix=["", "bert.", ""][i])
        head_meta, head_weights = tiny_head(rng, dtype=dtype)
        seeds["adapter"].append(SEP.join([config, weights, head_meta, head_weights]))
    config, weights = tiny_adapter(rng, layers=(0, 1), modules=("attention.self.query", "attention.self.value",
                                                                "attention.output.dense"))
    seeds["adapter"].append(SEP.join([config, weights, b"", b""]))
    for real in real_configs:  # a real run's config (its module names fit the tiny model's layers 0-1 only in part)
        _, weights = tiny_adapter(rng)
        seeds["adapter"].append(SEP.join([real.read_bytes(), weights, (real_heads[0].read_bytes() if real_heads else b""), b""]))

    for target in ("runtime", "core"):
        for kind, items in seeds.items():
            d = out / f"{target}_{kind}"
            d.mkdir(parents=True, exist_ok=True)
            for i, blob in enumerate(items):
                (d / f"seed-{i:02d}").write_bytes(blob)
    print(f"seeds: {', '.join(f'{k} {len(v)}' for k, v in seeds.items())} -> {out}")


if __name__ == "__main__":
    main()
