// safetensors, the layout both engines read: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}} (and an optional "__metadata__" of strings), then the raw little-endian data.
// The header is read and checked here once: every entry against the file (known dtype, a shape that fits, offsets
// inside the data holding exactly the shape's bytes), every error naming the file and the tensor. Each engine then
// reads the bytes into its own tensors (the core: torch tensors of any dtype; the runtime: fp32 vectors).
#pragma once
#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

namespace mtpf {

struct SafetensorsEntry {
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

struct SafetensorsHeader {
  uint64_t data_start = 0;  // file offset of the data section (8 + header length)
  uint64_t data_size = 0;
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

// Bytes per element of a safetensors dtype (F32, F16, BF16, F64, I64, I32, I8, U8, BOOL); 0 for any other.
size_t safetensors_dtype_size(const std::string& dtype);

// Reads the header of `path`, opened as `in`, a file of `file_size` bytes, and checks every entry against it.
SafetensorsHeader safetensors_read_header(std::istream& in, uint64_t file_size, const std::string& path);

// The bytes before the data of a file holding `entries` (offsets already laid out), metadata optional: the length
// field and the JSON, padded with spaces so that the data starts 8-byte aligned, as HF's writer does.
std::string safetensors_header_bytes(const std::map<std::string, SafetensorsEntry>& entries,
                                     const std::map<std::string, std::string>& metadata = {});

// "[2, 3]"
std::string shape_string(const std::vector<int64_t>& shape);

// The safetensors files of an HF model folder: model.safetensors, else the shards that
// model.safetensors.index.json's weight_map names (each once, sorted). A folder with only pytorch_model.bin, or with
// neither, is refused naming the folder and what to do.
std::vector<std::string> safetensors_weight_files(const std::string& model_dir);

}  // namespace mtpf
