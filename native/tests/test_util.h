// Helpers shared by the native tests: temporary folders, small random models and model folders, LoRA settings,
// error messages. (The test files compile as unity batches: a helper two files need lives here, once.)
#pragma once
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "errors.h"
#include "grad_cache.h"
#include "losses.h"
#include "lora.h"
#include "model_folder.h"

namespace mtpf::test {

inline std::filesystem::path temp_dir(const std::string& name) {
  static std::mt19937 rng(std::random_device{}());
  auto dir = std::filesystem::temp_directory_path() / ("mtpf-test-" + name + "-" + std::to_string(rng()));
  std::filesystem::create_directories(dir);
  return dir;
}

inline nlohmann::json tiny_config(const std::string& model_type) {
  if (model_type == "distilbert")
    return {{"model_type", "distilbert"}, {"vocab_size", 100}, {"dim", 32}, {"n_layers", 2}, {"n_heads", 4},
            {"hidden_dim", 64}, {"max_position_embeddings", 64}, {"activation", "gelu"}};
  return {{"model_type", model_type},
          {"vocab_size", 100},
          {"hidden_size", 32},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"intermediate_size", 64},
          {"max_position_embeddings", 64},
          {"type_vocab_size", model_type == "bert" ? 2 : 1},
          {"pad_token_id", model_type == "bert" ? 0 : 1},
          {"layer_norm_eps", 1e-12},
          {"hidden_act", "gelu"}};
}

// Writes a random-init model folder and returns its path.
inline std::filesystem::path write_tiny_model(const std::string& model_type, const std::string& name) {
  torch::manual_seed(7);
  auto dir = temp_dir(name);
  LoadedModel m;
  m.model = encoder_model_create(config_from_json(tiny_config(model_type), "tiny"));
  model_folder_save(m, dir.string());
  return dir;
}

// A random-init model of `model_type` (the same weights every time: seed 7) in eval mode; `changes` overrides
// fields of tiny_config.
inline std::shared_ptr<EncoderModel> tiny_model(const std::string& model_type,
                                                const nlohmann::json& changes = nlohmann::json::object()) {
  auto cfg = tiny_config(model_type);
  cfg.update(changes);
  torch::manual_seed(7);
  auto model = encoder_model_create(config_from_json(cfg, "tiny"));
  model->eval();
  return model;
}

inline LoraConfig lora_config(int64_t r, double alpha = 8, double dropout = 0, bool rslora = false) {
  LoraConfig c;
  c.r = r;
  c.lora_alpha = alpha;
  c.lora_dropout = dropout;
  c.use_rslora = rslora;
  return c;
}

// Cached InfoNCE with in-batch negatives: grad_cache_backward over {anchors, positives} with info_nce_loss (what
// TrainSession::run_tc runs with its own, distributed-aware, loss). Returns the loss; the gradients accumulate.
inline torch::Tensor cached_info_nce_loss(const ChunkEmbedFn& anchors, const ChunkEmbedFn& positives,
                                          int64_t batch_size, int64_t chunk_size, double temperature = 0.05,
                                          bool symmetric = false) {
  return grad_cache_backward({anchors, positives}, batch_size, chunk_size,
                             [&](const std::vector<torch::Tensor>& e) {
                               return info_nce_loss(e[0], e[1], temperature, symmetric);
                             });
}

// The message of the mtpf::Error that f throws, "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace mtpf::test
