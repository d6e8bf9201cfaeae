package io.mtpf.pretrain;

import io.mtpf.MtpfException;

/** The pre-finetuning strategies of the paper, each one config key away. */
public enum Strategy {
  /** Contrastive (InfoNCE) pre-finetuning for text classification, whole backbone. */
  PF_TC("pf-tc", true, false, false, false),
  /** NER distillation pre-finetuning, whole backbone. */
  PF_NER("pf-ner", false, true, false, false),
  /** Both losses on one backbone. */
  MTPF("mtpf", true, true, false, false),
  /** Both losses; two task-primary LoRA groups, each updated by its own task only; the backbone by both. */
  MTPF_TPL("mtpf-tpl", true, true, true, false),
  /** Backbone frozen, task LoRAs only. */
  PF_L("pf-l", true, true, true, true);

  public final String key;
  public final boolean tc;
  public final boolean ner;
  public final boolean loras;
  public final boolean frozenBackbone;

  Strategy(String key, boolean tc, boolean ner, boolean loras, boolean frozenBackbone) {
    this.key = key;
    this.tc = tc;
    this.ner = ner;
    this.loras = loras;
    this.frozenBackbone = frozenBackbone;
  }

  public boolean multiTask() {
    return tc && ner && !frozenBackbone;
  }

  public static Strategy parse(String s) {
    for (Strategy v : values()) if (v.key.equals(s)) return v;
    throw new MtpfException("unknown strategy '" + s + "' (pf-tc, pf-ner, mtpf, mtpf-tpl, pf-l)");
  }
}
