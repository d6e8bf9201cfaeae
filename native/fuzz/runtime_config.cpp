// The config.json reader (native/formats/src/hf_config.cpp) as the runtime uses it.
#include <stdexcept>

#include "mtpf/formats/hf_config.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mtpf_fuzz::write_file("config.json", {reinterpret_cast<const char*>(data), size});
  mtpf_fuzz::read_or_refuse<std::runtime_error>({path}, [&] {
    auto c = mtpf::config_read(path);
    volatile int sink = c.head_dim() + c.max_sequence_length();
    (void)sink;
  });
  return 0;
}
