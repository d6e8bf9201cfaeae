// The runtime's safetensors reader (native/runtime/src/safetensors.cpp): header, offsets, dtypes, every tensor read.
#include <stdexcept>

#include "fuzz_util.h"
#include "safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mtpf_fuzz::write_file("model.safetensors", {reinterpret_cast<const char*>(data), size});
  mtpf_fuzz::read_or_refuse<std::runtime_error>({path}, [&] {
    mtpf::rt::SafetensorsFile file(path);
    for (const auto& [name, entry] : file.entries()) {
      auto values = file.read_f32(name);
      volatile float sink = values.empty() ? 0.f : values.back();
      (void)sink;
    }
  });
  return 0;
}
