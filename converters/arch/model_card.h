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

// One top-level front-matter value, in the shapes the general.* keys read: a scalar, a list of
// scalars, or a list whose items are small mappings (base_model entries given as {name: ...}).
// Scalars keep their text: owl writes strings, where PyYAML would type `1.0` as a float.
struct CardValue {
  enum class Kind { null, scalar, list, other };
  Kind kind = Kind::null;
  std::string scalar;
  struct Item {
    // "- meta-llama/Llama-3.1-8B"; none for any other item (a mapping, a list, null).
    std::optional<std::string> scalar;
    // A mapping item's scalar values ("- name: ...\n  organization: ..."); others are skipped.
    std::vector<std::pair<std::string, std::string>> mapping;
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

// Limits that keep a hostile card cheap to read (yaml_tree.h bounds nesting and node count).
inline constexpr uint64_t kMaxFrontMatterBytes = 256u << 10;
inline constexpr size_t kMaxFrontMatterLines = 8192;
inline constexpr size_t kMaxListItems = 4096;
// Nodes visited while reading values: aliases may share a node many times over.
inline constexpr size_t kMaxFrontMatterVisits = size_t{1} << 20;

// Parses README.md text as llama.cpp's gguf-py (metadata.py) does: the lines after a first
// "---" line up to the next one (or the end) are YAML, read with yaml-cpp. No front matter
// gives an empty result. Anything else that PyYAML's safe_load would refuse or that is not a
// mapping (malformed YAML, a second document, characters YAML forbids, over a limit) throws
// InputError naming `file`; callers treat that as a card to ignore, never as fatal.
FrontMatter parse_front_matter(std::string_view text, const std::string& file);

// Reads the front matter of `path` (at most kMaxFrontMatterBytes of the file are looked at).
FrontMatter read_front_matter(const std::string& path);

}  // namespace owl::arch
