// Errors of the format layer and the core: a std::runtime_error (the runtime's callers catch it as their own) whose
// message names the input (file, tensor, argument) and the reason; the JavaCPP glue turns each std::exception into
// a Java exception carrying what().
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace mtpf {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// mtpf::fail("model.safetensors: tensor ", name, " ends past the file")
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  throw Error(out.str());
}

}  // namespace mtpf
