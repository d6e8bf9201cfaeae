// The config.json reader (native/formats/src/hf_config.cpp), then the model it describes where that is small enough to
// build here (a config asking for billions of parameters is a valid config; allocating it is not this test's job).
#include "mtpf/formats/hf_config.h"
#include "encoder_model.h"
#include "errors.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mtpf_fuzz::write_file("config.json", {reinterpret_cast<const char*>(data), size});
  mtpf_fuzz::read_or_refuse<mtpf::Error>({path}, [&] {
    auto c = mtpf::config_read(path);
    const double params = double(c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * c.hidden_size +
                          double(c.num_hidden_layers) * (4.0 * c.hidden_size + 2.0 * c.intermediate_size) * c.hidden_size;
    if (params < 2e5) {
      auto model = mtpf::encoder_model_create(c);
      volatile int64_t sink = model->max_sequence_length();
      (void)sink;
    }
  });
  return 0;
}
