// Integers from JSON headers and configs, checked. nlohmann's get<int>() casts a float or an out-of-range value
// without a word — undefined behaviour for a float past the type's range (the fuzzer's first native finding: a
// config.json with type_vocab_size 2e33). Part of the format layer both the runtime and the core link.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>

namespace mtpf {

// The value as T when it is an integer (or an integral float, as some writers emit: 384.0) that T holds exactly.
template <typename T>
std::optional<T> json_integer(const nlohmann::json& v) {
  static_assert(std::is_integral_v<T>);
  using L = std::numeric_limits<T>;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(L::max())) return std::nullopt;
    return static_cast<T>(u);
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      if (i < 0 || static_cast<uint64_t>(i) > static_cast<uint64_t>(L::max())) return std::nullopt;
    } else {
      if (i < static_cast<int64_t>(L::min()) || i > static_cast<int64_t>(L::max())) return std::nullopt;
    }
    return static_cast<T>(i);
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    // Bounds as doubles: max() + 1 and min() are powers of two, exact; compare strictly against max() + 1.
    const double hi = std::ldexp(1.0, L::digits), lo = L::is_signed ? -hi : 0.0;
    if (std::isfinite(d) && d == std::floor(d) && d >= lo && d < hi) return static_cast<T>(d);
  }
  return std::nullopt;
}

// Field `key` of object j as T, or fallback when it is absent or null; a value of the wrong type (or an integer that
// T cannot hold) throws Err naming source, the field and the value. Err: the caller's error type (the core's
// mtpf::Error, the runtime's std::runtime_error).
template <typename Err, typename T>
T json_field_or(const nlohmann::json& j, const char* key, T fallback, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (auto v = json_integer<T>(*it)) return *v;
    throw Err(source + ": field '" + key + "' must be an integer that fits in " + std::to_string(sizeof(T) * 8) +
              " bits (" + it->dump() + ")");
  } else {
    try {
      return it->template get<T>();
    } catch (const nlohmann::json::exception&) {
      throw Err(source + ": field '" + key + "' has the wrong type (" + it->dump() + ")");
    }
  }
}

// a * b, or nullopt when it overflows int64 (shapes read from files: a product of lying dimensions).
inline std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

}  // namespace mtpf
