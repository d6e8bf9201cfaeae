#include "safetensors.h"

#include <fstream>

#include "atomic_file.h"
#include "errors.h"

namespace mtpf {

namespace {

// safetensors dtypes as torch scalar types (the byte sizes are the format layer's).
const std::pair<const char*, torch::ScalarType> kDtypes[] = {
    {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"F64", torch::kFloat64}, {"I64", torch::kInt64},   {"I32", torch::kInt32},
    {"I8", torch::kInt8},     {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

torch::ScalarType scalar_type(const std::string& dtype) {
  for (const auto& [name, type] : kDtypes)
    if (dtype == name) return type;
  fail("safetensors: no torch type for dtype ", dtype);
}

const char* dtype_name(torch::ScalarType t) {
  for (const auto& [name, type] : kDtypes)
    if (t == type) return name;
  return nullptr;
}

}  // namespace

SafetensorsFile safetensors_read(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, ": file not found or not readable");
  const auto header = safetensors_read_header(in, static_cast<uint64_t>(in.tellg()), path);
  SafetensorsFile out;
  out.metadata = header.metadata;
  for (const auto& [name, e] : header.entries) {
    torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(scalar_type(e.dtype)));
    in.seekg(static_cast<std::streamoff>(header.data_start + e.begin));
    in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(e.end - e.begin));
    if (!in) fail(path, ": read failed for tensor '", name, "'");
    out.tensors.emplace(name, t);
  }
  return out;
}

void safetensors_write(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::map<std::string, SafetensorsEntry> entries;
  std::vector<torch::Tensor> data;  // in the map's order, as the offsets are laid out
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    const char* dtype = dtype_name(t.scalar_type());
    if (!dtype) fail(path, ": cannot write tensor '", name, "' of dtype ", t.scalar_type());
    const uint64_t bytes = t.numel() * t.element_size();
    entries[name] = {dtype, t.sizes().vec(), offset, offset + bytes};
    offset += bytes;
    data.push_back(t);
  }
  const std::string head = safetensors_header_bytes(entries, metadata);
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    for (const auto& t : data) out.write(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  });
}

}  // namespace mtpf
