// The YAML front matter of a Hugging Face model card (README.md), for the general.* keys.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace owl::arch {

// One front-matter value, in the subset model cards use: a scalar, a list of scalars, or a
// list whose items are small mappings (base_model entries given as {name: ..., ...}).
struct CardValue {
  enum class Kind { null, scalar, list, other };
  Kind kind = Kind::null;
  std::string scalar;
  struct Item {
    std::optional<std::string> scalar;                         // "- meta-llama/Llama-3.1-8B"
    std::vector<std::pair<std::string, std::string>> mapping;  // "- name: ...\n  organization: ..."
  };
  std::vector<Item> items;
};

// Top-level keys in file order; a repeated key keeps its last value, as YAML loaders do.
class FrontMatter {
 public:
  const CardValue* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  void set(std::string key, CardValue v);
  size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, CardValue>> entries_;
};

// Limits that keep a hostile card cheap to read.
inline constexpr uint64_t kMaxFrontMatterBytes = 256u << 10;
inline constexpr size_t kMaxFrontMatterLines = 8192;
inline constexpr size_t kMaxListItems = 4096;

// Parses README.md text. No front matter (the first line is not "---") gives an empty result.
// Malformed front matter (never closed, an unterminated quote or list, a line that is not
// `key: value`, over a limit) throws InputError naming `file`. Constructs model cards do not
// use for the keys owl reads (nested mappings, block scalars, flow mappings) are kept as
// Kind::other and ignored.
FrontMatter parse_front_matter(std::string_view text, const std::string& file);

// Reads the front matter of `path` (at most kMaxFrontMatterBytes of the file are looked at).
FrontMatter read_front_matter(const std::string& path);

}  // namespace owl::arch
