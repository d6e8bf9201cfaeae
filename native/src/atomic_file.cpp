#include "atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "errors.h"

namespace mtpf {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& body) {
  const std::string tmp = path + ".tmp";
  std::string why;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(path, ": cannot open ", tmp, " for writing (", std::strerror(errno), ")");
    errno = 0;
    try {
      body(out);
    } catch (...) {
      out.close();
      std::remove(tmp.c_str());
      throw;
    }
    out.flush();
    if (out) out.close();  // close() writes what is still buffered: its failure counts too
    if (!out) why = errno ? std::strerror(errno) : "the stream failed";
  }
  if (!why.empty()) {
    std::remove(tmp.c_str());
    fail(path, ": write failed (", why, "; disk full?); the previous file, if any, is unchanged");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    fail(path, ": cannot rename ", tmp, " into place (", reason, ")");
  }
}

void write_text_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, [&](std::ostream& out) { out << text; });
}

}  // namespace mtpf
