// What every fuzz target shares: the input goes to a file (the parsers read paths, as users give them), and the one
// acceptable failure is the parser's own error naming that file. Anything else — a crash, a sanitizer report, another
// exception type, a message that does not name the input — stops the fuzzer: that is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>
#include <string_view>
#include <vector>

namespace mtpf_fuzz {

// A folder of this process, under $TMPDIR (fuzzers run many processes side by side).
inline const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("mtpf-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::string write_file(const std::string& name, std::string_view bytes) {
  auto path = (work_dir() / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) std::abort();  // the harness, not the parser: a full disk would be no finding
  return path;
}

// Splits an input into up to n files at the separator (seeds are made that way: native/fuzz/make_seeds.py).
inline std::vector<std::string_view> split_parts(const uint8_t* data, size_t size, size_t n) {
  static constexpr std::string_view kSep = "\n--8<--\n";
  std::string_view s(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < n) {
    auto at = s.find(kSep);
    if (at == std::string_view::npos) break;
    parts.push_back(s.substr(0, at));
    s.remove_prefix(at + kSep.size());
  }
  parts.push_back(s);
  while (parts.size() < n) parts.push_back({});
  return parts;
}

// The parser refused the input: fine when its error names one of the files it was given; a finding otherwise.
template <typename Error>
void expect_named(const Error& e, std::initializer_list<std::string> names) {
  std::string_view what = e.what();
  for (const auto& n : names)
    if (what.find(n) != std::string_view::npos) return;
  std::fprintf(stderr, "FINDING: an error that names none of the inputs: %s\n", e.what());
  std::abort();
}

inline void unexpected(const char* kind, const char* what) {
  std::fprintf(stderr, "FINDING: %s escaped the parser: %s\n", kind, what);
  std::abort();
}

// Runs one parse: returning is fine, so is an `Error` naming one of `names`; anything else is a finding.
template <typename Error, typename Body>
void read_or_refuse(std::initializer_list<std::string> names, Body body) {
  try {
    body();
  } catch (const Error& e) {
    expect_named(e, names);
  } catch (const std::exception& e) {
    unexpected(typeid(e).name(), e.what());
  }
}

}  // namespace mtpf_fuzz
