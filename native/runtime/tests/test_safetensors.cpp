// The safetensors reader: values of every dtype, and strict header checks whose errors name file and tensor.
#include <cstring>
#include <filesystem>
#include <fstream>

#include "safetensors.h"
#include "test_util.h"

namespace mtpf::rt {
namespace {

using test::expect_error;
using test::temp_dir;

// Writes a file with a hand-made header and data section.
std::string write_raw(const std::string& name, const std::string& header, const std::string& data) {
  const auto path = (temp_dir("st") / name).string();
  std::ofstream out(path, std::ios::binary);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << data;
  return path;
}

TEST(Safetensors, ReadsF32F16Bf16AsFloat) {
  const auto dir = temp_dir("st");
  const std::string f32 = (dir / "a.safetensors").string();
  safetensors_write_f32(f32, {{"w", {{2, 3}, {1, -2, 3.5f, 0, 1e-3f, -7}}}});
  SafetensorsFile st(f32);
  EXPECT_EQ(st.read_f32("w", {2, 3}), (std::vector<float>{1, -2, 3.5f, 0, 1e-3f, -7}));
  // 1.0, -2.0, 0.5 and a subnormal in fp16; 1.0, -2.5 in bf16 (little-endian bytes).
  const std::string half("\x00\x3c\x00\xc0\x00\x38\x01\x00", 8), bf("\x80\x3f\x20\xc0", 4);
  const auto path = write_raw("h.safetensors",
                              R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"__metadata__":{"format":"pt"}})",
                              half + bf);
  SafetensorsFile hs(path);
  const auto h = hs.read_f32("h");
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(h[2], 0.5f);
  EXPECT_FLOAT_EQ(h[3], 5.9604645e-08f);
  EXPECT_EQ(hs.read_f32("b"), (std::vector<float>{1.0f, -2.5f}));
}

TEST(Safetensors, RefusesBrokenFilesNamingFileAndTensor) {
  struct Case {
    const char* what;
    std::string header, data;
    std::vector<std::string> message;
  };
  const std::string ok_data(24, '\0');
  const Case cases[] = {
      {"truncated data", R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})", std::string(10, '\0'),
       {"'w'", "outside", "truncated"}},
      {"offsets past the end", R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]}})", ok_data,
       {"'w'", "data_offsets"}},
      {"size not matching the shape", R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,24]}})", ok_data,
       {"'w'", "needs 16"}},
      {"unknown dtype", R"({"w":{"dtype":"I64","shape":[3],"data_offsets":[0,24]}})", ok_data, {"'w'", "I64"}},
      {"malformed header", R"({"w":{"dtype":"F32",)", ok_data, {"malformed"}},
      {"missing field", R"({"w":{"dtype":"F32","shape":[6]}})", ok_data, {"'w'", "bad header"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const auto path = write_raw("bad.safetensors", c.header, c.data);
    auto parts = c.message;
    parts.push_back(path);
    expect_error([&] { SafetensorsFile st(path); }, parts);
  }
  // A header length beyond the file, and a file shorter than the length field.
  const auto dir = temp_dir("st");
  {
    std::ofstream out(dir / "short.safetensors", std::ios::binary);
    out << "abc";
  }
  expect_error([&] { SafetensorsFile st((dir / "short.safetensors").string()); }, {"short.safetensors", "truncated"});
  {
    std::ofstream out(dir / "long.safetensors", std::ios::binary);
    const char len[8] = {char(0xff), 0, 0, 0, 0, 0, 0, 0};
    out.write(len, 8);
    out << "{}";
  }
  expect_error([&] { SafetensorsFile st((dir / "long.safetensors").string()); }, {"long.safetensors", "header of 255"});
  expect_error([&] { SafetensorsFile st((dir / "none.safetensors").string()); }, {"none.safetensors", "not found"});
}

TEST(Safetensors, WrongShapeAndMissingTensorNameTheTensor) {
  const auto path = (temp_dir("st") / "a.safetensors").string();
  safetensors_write_f32(path, {{"w", {{2, 3}, std::vector<float>(6, 1.0f)}}});
  SafetensorsFile st(path);
  expect_error([&] { st.read_f32("w", {3, 2}, "the layer"); }, {path, "'w'", "[2, 3]", "the layer", "[3, 2]"});
  expect_error([&] { st.read_f32("v"); }, {path, "'v'", "missing"});
  const auto nan_path = (temp_dir("st") / "nan.safetensors").string();
  safetensors_write_f32(nan_path, {{"w", {{1}, {std::nanf("")}}}});
  expect_error([&] { SafetensorsFile(nan_path).read_f32("w"); }, {"'w'", "NaN"});
}

TEST(Safetensors, WeightFilesOfAModelFolder) {
  namespace fs = std::filesystem;
  const auto dir = temp_dir("weights");
  expect_error([&] { safetensors_weight_files(dir.string()); }, {dir.string(), "no model.safetensors"});
  std::ofstream(dir / "pytorch_model.bin") << "x";
  expect_error([&] { safetensors_weight_files(dir.string()); }, {dir.string(), "only pytorch_model.bin", "save_pretrained"});
  // Sharded: each shard once, sorted, whatever the order of the weight map.
  std::ofstream(dir / "model.safetensors.index.json")
      << R"({"metadata": {}, "weight_map": {"b": "model-00002.safetensors", "a": "model-00001.safetensors",
             "c": "model-00002.safetensors"}})";
  EXPECT_EQ(safetensors_weight_files(dir.string()),
            (std::vector<std::string>{(dir / "model-00001.safetensors").string(), (dir / "model-00002.safetensors").string()}));
  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map": {"a": 3}})";
  expect_error([&] { safetensors_weight_files(dir.string()); }, {"model.safetensors.index.json", "'a'", "not a file name"});
  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map": {)";
  expect_error([&] { safetensors_weight_files(dir.string()); }, {"model.safetensors.index.json", "malformed JSON"});
  // One file wins over an index.
  std::ofstream(dir / "model.safetensors") << "x";
  EXPECT_EQ(safetensors_weight_files(dir.string()), std::vector<std::string>{(dir / "model.safetensors").string()});
}

}  // namespace
}  // namespace mtpf::rt
