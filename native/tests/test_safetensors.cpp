#include <gtest/gtest.h>

#include <fstream>

#include "errors.h"
#include "safetensors.h"
#include "test_util.h"

using namespace mtpf;

TEST(Safetensors, RoundTripKeepsValuesAndDtypes) {
  auto dir = test::temp_dir("st");
  std::map<std::string, torch::Tensor> in = {
      {"a", torch::randn({3, 4})},
      {"b", torch::randn({5}).to(torch::kBFloat16)},
      {"c", torch::randn({2, 2}).to(torch::kFloat16)},
  };
  auto path = (dir / "x.safetensors").string();
  safetensors_write(path, in, {{"format", "pt"}});
  auto out = safetensors_read(path);
  ASSERT_EQ(out.tensors.size(), 3u);
  EXPECT_EQ(out.metadata.at("format"), "pt");
  for (auto& [k, t] : in) {
    EXPECT_EQ(out.tensors.at(k).scalar_type(), t.scalar_type()) << k;
    EXPECT_TRUE(torch::equal(out.tensors.at(k), t)) << k;
  }
}

// Writes a file whose header is given verbatim, followed by `data_bytes` zero bytes.
static std::string write_raw(const std::filesystem::path& dir, const std::string& header, size_t data_bytes) {
  auto path = (dir / "raw.safetensors").string();
  std::ofstream out(path, std::ios::binary);
  uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << std::string(data_bytes, '\0');
  return path;
}

static std::string read_error(const std::string& path) {
  try {
    safetensors_read(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, HeaderThatLiesAboutSizesIsRefused) {
  auto dir = test::temp_dir("st-bad");
  // 2x2 F32 needs 16 bytes; offsets give 12.
  auto err = read_error(write_raw(dir, R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 16));
  EXPECT_NE(err.find("'w'"), std::string::npos) << err;
  EXPECT_NE(err.find("needs 16 bytes"), std::string::npos) << err;
  // Offsets past the end of the data.
  err = read_error(write_raw(dir, R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", 8));
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  // Unknown dtype, malformed JSON, header length past the file.
  err = read_error(write_raw(dir, R"({"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", 1));
  EXPECT_NE(err.find("unsupported dtype"), std::string::npos) << err;
  err = read_error(write_raw(dir, R"({"w":)", 0));
  EXPECT_NE(err.find("malformed JSON"), std::string::npos) << err;
}

TEST(Safetensors, TruncatedAndMissingFilesAreRefused) {
  auto dir = test::temp_dir("st-trunc");
  auto path = (dir / "t.safetensors").string();
  { std::ofstream(path, std::ios::binary) << "abc"; }
  EXPECT_NE(read_error(path).find("truncated"), std::string::npos);
  EXPECT_NE(read_error((dir / "nope.safetensors").string()).find("not found"), std::string::npos);
}
