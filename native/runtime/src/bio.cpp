// decode_bio: seqeval's get_entities (default, non-strict mode) over word-level label ids.
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "mtpf/runtime.h"

namespace mtpf::rt {

namespace {

struct Tag {
  char prefix;  // 'B', 'I', 'E', 'S' or 'O'
  std::string type;
};

// seqeval: tag = label[0], type = label[1:] after its first '-' ("O" -> type "_").
Tag split_tag(const std::string& label) {
  if (label.empty() || label == "O") return {'O', "_"};
  const std::string rest = label.substr(1);
  const size_t dash = rest.find('-');
  std::string type = dash == std::string::npos ? rest : rest.substr(dash + 1);
  return {label[0], type.empty() ? "_" : type};
}

bool end_of_chunk(const Tag& prev, const Tag& cur) {
  const char p = prev.prefix, c = cur.prefix;
  if (p == 'E' || p == 'S') return true;
  if (p == 'B' && (c == 'B' || c == 'S' || c == 'O')) return true;
  if (p == 'I' && (c == 'B' || c == 'S' || c == 'O')) return true;
  return p != 'O' && p != '.' && prev.type != cur.type;
}

bool start_of_chunk(const Tag& prev, const Tag& cur) {
  const char p = prev.prefix, c = cur.prefix;
  if (c == 'B' || c == 'S') return true;
  if ((p == 'E' || p == 'S' || p == 'O') && (c == 'E' || c == 'I')) return true;
  return c != 'O' && c != '.' && prev.type != cur.type;
}

}  // namespace

int decode_bio(const int32_t* word_label_ids, int num_words, const std::string& labels, int32_t* spans,
               int max_spans) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= labels.size()) {
    const size_t nl = labels.find('\n', start);
    names.push_back(labels.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  if (labels.empty()) fail("decode_bio: labels is empty");
  if (num_words < 0 || max_spans < 0) fail("decode_bio: num_words and max_spans must not be negative");
  if (num_words > 0 && !word_label_ids) fail("decode_bio: word_label_ids must not be null");
  if (max_spans > 0 && !spans) fail("decode_bio: spans must not be null");
  Tag prev{'O', "_"};
  int begin = -1, begin_id = -1, count = 0;
  for (int i = 0; i <= num_words; ++i) {
    Tag cur{'O', "_"};
    int id = -1;
    if (i < num_words) {
      id = word_label_ids[i];
      if (id < 0 || id >= static_cast<int>(names.size()))
        fail("decode_bio: word ", i, " has label id ", id, " outside the ", names.size(), " labels");
      cur = split_tag(names[id]);
    }
    if (begin >= 0 && end_of_chunk(prev, cur)) {
      if (count < max_spans) {
        spans[3 * count] = begin;
        spans[3 * count + 1] = i - 1;
        spans[3 * count + 2] = begin_id;
      }
      ++count;
      begin = -1;
    }
    if (start_of_chunk(prev, cur)) {
      begin = i;
      begin_id = id;
    }
    prev = cur;
  }
  return count < max_spans ? count : max_spans;
}

}  // namespace mtpf::rt
