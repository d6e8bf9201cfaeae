// The runtime's PEFT adapter and head readers (native/runtime/src/lora.cpp) on a folder of four files, split from
// one input: adapter_config.json, adapter_model.safetensors, head_ner.json, head_ner.safetensors. The backbone is
// a 2-layer BERT of hidden size 8 (the seeds' shapes), so well-formed inputs reach the shape checks.
#include <stdexcept>

#include "fuzz_util.h"
#include "lora.h"

namespace {

mtpf::rt::LinearShapes tiny_bert() {
  mtpf::rt::LinearShapes s;
  for (int l = 0; l < 2; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* m : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"})
      s[p + m] = {8, 8};
    s[p + "intermediate.dense"] = {8, 16};
    s[p + "output.dense"] = {16, 8};
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto linears = tiny_bert();
  auto parts = mtpf_fuzz::split_parts(data, size, 4);
  const std::string config = mtpf_fuzz::write_file("adapter_config.json", parts[0]);
  const std::string weights = mtpf_fuzz::write_file("adapter_model.safetensors", parts[1]);
  const std::string head_json = mtpf_fuzz::write_file("head_ner.json", parts[2]);
  const std::string head_weights = mtpf_fuzz::write_file("head_ner.safetensors", parts[3]);
  const std::string dir = mtpf_fuzz::work_dir().string();
  mtpf_fuzz::read_or_refuse<std::runtime_error>({config, weights, dir}, [&] {
    auto c = mtpf::peft_read_config(dir);
    auto w = mtpf::rt::peft_read_weights(dir, c, linears);
    volatile float sink = c.scaling() + float(w.size());
    (void)sink;
  });
  mtpf_fuzz::read_or_refuse<std::runtime_error>({head_json, head_weights, dir}, [&] {
    auto h = mtpf::rt::head_read(dir, "ner", 8);
    volatile size_t sink = h.weight.size() + h.labels.size();
    (void)sink;
  });
  return 0;
}
