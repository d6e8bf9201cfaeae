// An HF model folder: config.json, model.safetensors (or a sharded index), vocab.txt / tokenizer.json.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "mtpf/formats/hf_config.h"
#include "encoder_model.h"

namespace mtpf {

struct LoadedModel {
  std::shared_ptr<EncoderModel> model;
  // Checkpoint tensors the encoder does not use (pooler, task heads, position_ids buffers), kept under
  // their file names so that a save writes them back.
  std::map<std::string, torch::Tensor> extras;
  std::string source_dir;
};

// Loads and checks a folder: every parameter of the architecture must be present with the shape that
// config.json implies. Weights in F16/BF16/F64 are converted to fp32. dropout >= 0 replaces config.json's hidden and
// attention dropout in this instance (a save still writes config.json as it was).
LoadedModel model_folder_load(const std::string& dir, double dropout = -1);
// Loads weights from a state dict (file names, with or without a "bert."/"roberta."/"distilbert." prefix).
void model_load_state(EncoderModel& model, const std::map<std::string, torch::Tensor>& tensors,
                      const std::string& source, std::map<std::string, torch::Tensor>* extras);
// Writes config.json, model.safetensors (fp32, HF names) and copies the tokenizer files of source_dir.
void model_folder_save(const LoadedModel& loaded, const std::string& dir);

}  // namespace mtpf
