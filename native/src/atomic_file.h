// Files written whole or not at all: the bytes go to "<path>.tmp" beside the target, which is renamed into place
// only after every byte reached it (flushed and closed without error). A full disk or a failed write midway leaves
// the previous file as it was and no temporary behind, and the error names the path and the system's reason.
#pragma once
#include <functional>
#include <ostream>
#include <string>

namespace mtpf {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& body);
void write_text_atomic(const std::string& path, const std::string& text);

}  // namespace mtpf
