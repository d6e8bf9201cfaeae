package io.mtpf.models;

import io.mtpf.formats.Fp32Tensor;
import java.util.List;

/** A BertModel's parameters under their HF names, in module order, and the config they imply. */
public record BertCheckpoint(BertConfig config, List<Fp32Tensor> tensors) {
  public long parameterCount() {
    long n = 0;
    for (Fp32Tensor t : tensors) n += t.numel();
    return n;
  }

  public Fp32Tensor tensor(String name) {
    for (Fp32Tensor t : tensors) {
      if (t.name().equals(name)) return t;
    }
    throw new IllegalArgumentException("no tensor " + name);
  }
}
