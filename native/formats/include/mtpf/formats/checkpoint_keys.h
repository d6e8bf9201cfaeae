// Names in HF checkpoints, mapped onto the base model's: one rule for every reader of weights.
#pragma once
#include <string>

namespace mtpf {

// Prefixes HF task models put before the encoder's own module names (BertForTokenClassification: "bert.").
inline constexpr const char* kTaskModelPrefixes[] = {"bert.", "roberta.", "distilbert.", "model."};

// Drops a task model's prefix (bert., roberta., distilbert., model.) and maps the old LayerNorm names gamma / beta
// to weight / bias.
std::string normalize_checkpoint_key(std::string key);

}  // namespace mtpf
