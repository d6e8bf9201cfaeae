// The runtime's safetensors reader (native/runtime/src/safetensors.cpp): header, offsets, dtypes, every tensor read.
#include <stdexcept>

#include "fuzz_util.h"
#include "safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mtpf_fuzz::write_file("model.safetensors", {reinterpret_cast<const char*>(data), size});
  try {
    mtpf::rt::SafetensorsFile file(path);
    for (const auto& [name, entry] : file.entries()) {
      auto values = file.read_f32(name);
      volatile float sink = values.empty() ? 0.f : values.back();
      (void)sink;
    }
  } catch (const std::runtime_error& e) {
    mtpf_fuzz::expect_named(e, {path});
  } catch (const std::exception& e) {
    mtpf_fuzz::unexpected(typeid(e).name(), e.what());
  }
  return 0;
}
