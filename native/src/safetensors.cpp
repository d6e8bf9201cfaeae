#include "safetensors.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mtpf/formats/json_field.h"
#include "atomic_file.h"
#include "errors.h"

namespace mtpf {

namespace {

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  int64_t size;
};

const DtypeInfo kDtypes[] = {
    {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2}, {"BF16", torch::kBFloat16, 2},
    {"F64", torch::kFloat64, 8}, {"I64", torch::kInt64, 8},   {"I32", torch::kInt32, 4},
    {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},    {"BOOL", torch::kBool, 1},
};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo* dtype_by_type(torch::ScalarType t) {
  for (const auto& d : kDtypes)
    if (t == d.type) return &d;
  return nullptr;
}

}  // namespace

SafetensorsFile safetensors_read(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, ": file not found or not readable");
  const int64_t file_size = in.tellg();
  in.seekg(0);
  if (file_size < 8) fail(path, ": truncated (", file_size, " bytes; a safetensors file starts with an 8-byte header length)");
  uint8_t len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len == 0 || header_len > static_cast<uint64_t>(file_size - 8) || header_len > (100u << 20))
    fail(path, ": header length ", header_len, " does not fit the file size ", file_size);
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": malformed JSON header (", e.what(), ")");
  }
  if (!j.is_object()) fail(path, ": header is not a JSON object");

  const int64_t data_start = 8 + static_cast<int64_t>(header_len);
  const int64_t data_size = file_size - data_start;
  SafetensorsFile out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (it->is_object())
        for (auto m = it->begin(); m != it->end(); ++m)
          if (m->is_string()) out.metadata[m.key()] = m->get<std::string>();
      continue;
    }
    const auto& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      fail(path, ": tensor '", name, "' lacks dtype, shape or data_offsets");
    const DtypeInfo* d = e["dtype"].is_string() ? dtype_by_name(e["dtype"].get<std::string>()) : nullptr;
    if (!d) fail(path, ": tensor '", name, "' has unsupported dtype ", e["dtype"].dump());
    std::vector<int64_t> shape;
    int64_t numel = 1;
    for (const auto& s : e["shape"]) {
      if (!s.is_number_integer() || s.get<int64_t>() < 0) fail(path, ": tensor '", name, "' has a bad shape ", e["shape"].dump());
      shape.push_back(s.get<int64_t>());
      auto product = checked_mul(numel, shape.back());
      if (!product || !checked_mul(*product, int64_t(d->size)))
        fail(path, ": tensor '", name, "' has a shape ", e["shape"].dump(), " too large for any file");
      numel = *product;
    }
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_integer() || !off[1].is_number_integer())
      fail(path, ": tensor '", name, "' has malformed data_offsets ", off.dump());
    const int64_t begin = off[0].get<int64_t>(), end = off[1].get<int64_t>();
    if (begin < 0 || end < begin || end > data_size)
      fail(path, ": tensor '", name, "' claims bytes [", begin, ", ", end, ") but the data section has ", data_size,
           " bytes (truncated file or a header that lies about sizes)");
    if (end - begin != numel * d->size)
      fail(path, ": tensor '", name, "' of shape ", e["shape"].dump(), " and dtype ", d->name, " needs ", numel * d->size,
           " bytes but its offsets give ", end - begin);
    torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(d->type));
    in.seekg(data_start + begin);
    in.read(static_cast<char*>(t.data_ptr()), end - begin);
    if (!in) fail(path, ": read failed for tensor '", name, "'");
    out.tensors.emplace(name, t);
  }
  return out;
}

void safetensors_write(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  int64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    const DtypeInfo* d = dtype_by_type(t.scalar_type());
    if (!d) fail(path, ": cannot write tensor '", name, "' of dtype ", t.scalar_type());
    const int64_t bytes = t.numel() * d->size;
    header[name] = {{"dtype", d->name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(t);
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h.push_back(' ');  // keep data 8-byte aligned, as HF's writer does
  write_file_atomic(path, [&](std::ostream& out) {
    uint64_t n = h.size();
    char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(len_bytes, 8);
    out.write(h.data(), h.size());
    for (const auto& t : data) out.write(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  });
}

}  // namespace mtpf
