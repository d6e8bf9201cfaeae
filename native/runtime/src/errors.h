// Errors of the runtime: std::runtime_error whose message names the input (file, tensor, argument) and the reason.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace mtpf::rt {

template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  throw std::runtime_error(out.str());
}

}  // namespace mtpf::rt
