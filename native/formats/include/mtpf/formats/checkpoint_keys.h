// Names in HF checkpoints, mapped onto the base model's: one rule for every reader of weights.
#pragma once
#include <string>

namespace mtpf {

// Drops a task model's prefix (bert., roberta., distilbert., model.) and maps the old LayerNorm names gamma / beta
// to weight / bias.
std::string normalize_checkpoint_key(std::string key);

}  // namespace mtpf
