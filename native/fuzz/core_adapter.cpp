// The core's PEFT adapter and head readers (native/src/peft.cpp) on a folder of four files split from one input —
// adapter_config.json, adapter_model.safetensors, head_ner.json, head_ner.safetensors — loaded into a 2-layer BERT
// of hidden size 8 (the seeds' shapes), so well-formed inputs reach the shape checks and the load itself.
#include "encoder_model.h"
#include "errors.h"
#include "fuzz_util.h"
#include "lora.h"
#include "peft.h"

namespace {

std::shared_ptr<mtpf::EncoderModel> tiny_bert() {
  mtpf::EncoderConfig c;
  c.model_type = "bert";
  c.vocab_size = 32;
  c.hidden_size = 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 16;
  c.max_position_embeddings = 16;
  return mtpf::encoder_model_create(c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto model = tiny_bert();
  auto parts = mtpf_fuzz::split_parts(data, size, 4);
  const std::string config = mtpf_fuzz::write_file("adapter_config.json", parts[0]);
  const std::string weights = mtpf_fuzz::write_file("adapter_model.safetensors", parts[1]);
  const std::string head_json = mtpf_fuzz::write_file("head_ner.json", parts[2]);
  const std::string head_weights = mtpf_fuzz::write_file("head_ner.safetensors", parts[3]);
  const std::string dir = mtpf_fuzz::work_dir().string();
  try {
    mtpf::peft_load(*model, dir, "fuzz");
    mtpf::lora_remove(*model, "fuzz");
  } catch (const mtpf::Error& e) {
    mtpf_fuzz::expect_named(e, {config, weights, dir});
    // A refused adapter must leave the model as it was (checked before anything changes).
    if (!mtpf::lora_adapter_names(*model).empty()) mtpf_fuzz::unexpected("a half-loaded adapter", e.what());
  } catch (const std::exception& e) {
    mtpf_fuzz::unexpected(typeid(e).name(), e.what());
  }
  mtpf_fuzz::read_or_refuse<mtpf::Error>({head_json, head_weights, dir}, [&] {
    auto h = mtpf::peft_load_head(dir, "ner");
    volatile int64_t sink = h.weight.numel() + int64_t(h.labels.size());
    (void)sink;
  });
  return 0;
}
