// The core's safetensors reader (native/src/safetensors.cpp): header, offsets, dtypes, every tensor touched.
#include "errors.h"
#include "fuzz_util.h"
#include "safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mtpf_fuzz::write_file("model.safetensors", {reinterpret_cast<const char*>(data), size});
  mtpf_fuzz::read_or_refuse<mtpf::Error>({path}, [&] {
    auto file = mtpf::safetensors_read(path);
    for (const auto& [name, t] : file.tensors) {
      volatile double sink = t.numel() ? t.to(torch::kDouble).sum().item<double>() : 0.0;
      (void)sink;
    }
  });
  return 0;
}
