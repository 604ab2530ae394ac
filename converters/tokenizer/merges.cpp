#include "converters/tokenizer/merges.h"

#include "converters/tokenizer/json_util.h"
#include "converters/tokenizer/limits.h"
#include "formats/io/error.h"

namespace owl::tok {
namespace {

constexpr std::string_view kByteLevelSpace = "\xC4\xA0";  // U+0120, byte-level BPE's space

std::string byte_level_spaces(const std::string& part) {
  std::string out;
  out.reserve(part.size());
  for (char c : part) {
    if (c == ' ')
      out += kByteLevelSpace;
    else
      out += c;
  }
  return out;
}

[[noreturn]] void bad_merge(const JsonFile& f, size_t i, const Json& merge,
                            std::string_view expected) {
  std::string shown = merge.dump();
  if (shown.size() > 80) shown = shown.substr(0, 80) + "...";
  throw InputError(
      f.path, "merge " + std::to_string(i) + " is " + shown + ", not " + std::string(expected));
}

}  // namespace

std::vector<std::string> read_merges(const JsonFile& f) {
  const Json* merges = member(member_or_null(f.json, "model"), "merges");
  if (!merges || !merges->is_array() || merges->empty()) return {};
  if (merges->size() > kMaxMerges)
    throw InputError(f.path, "has " + std::to_string(merges->size()) +
                                 " merges, more than the limit of " + std::to_string(kMaxMerges));
  // The first merge decides the form, as in gguf-py; every other one must have the same form.
  const bool string_form = (*merges)[0].is_string();
  std::vector<std::string> out;
  out.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const Json& m = (*merges)[i];
    if (string_form) {
      if (!m.is_string()) bad_merge(f, i, m, "a string like the first merge");
      out.push_back(m.get<std::string>());
    } else {
      if (!m.is_array() || m.size() != 2 || !m[0].is_string() || !m[1].is_string())
        bad_merge(f, i, m, "a pair of strings");
      out.push_back(byte_level_spaces(m[0].get<std::string>()) + " " +
                    byte_level_spaces(m[1].get<std::string>()));
    }
    if (out.back().size() > 2 * kMaxTokenBytes + 1)
      bad_merge(f, i, m, "a pair of tokens within the length limit");
  }
  return out;
}

}  // namespace owl::tok
