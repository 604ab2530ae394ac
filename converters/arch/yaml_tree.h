// A YAML document (a model card's front matter) read with yaml-cpp into a small tree, with what
// a hostile document can cost bounded: nesting depth and node count are capped while yaml-cpp
// parses, and aliases share the node they name instead of copying it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace owl::arch::yaml {

struct Node {
  enum class Kind : uint8_t { null, scalar, sequence, mapping };
  Kind kind = Kind::null;
  bool plain = false;  // an untagged plain scalar: only then is `<<` a merge key (YAML 1.1)
  std::string text;    // a scalar's value
  // A sequence's items, or a mapping's keys and values alternating. An alias is the index of
  // the node it names, so a tree may share nodes and even hold cycles (`&a [*a]`): walkers
  // must bound their depth and work.
  std::vector<uint32_t> children;
};

struct Tree {
  std::vector<Node> nodes;
  std::optional<uint32_t> root;  // none for a stream without a document (only comments)
};

// Collections nested deeper than this are refused before yaml-cpp recurses into them.
inline constexpr size_t kMaxDepth = 64;
// Nodes and aliases together; a 256 KiB card has a few thousand.
inline constexpr size_t kMaxNodes = size_t{1} << 18;

// Parses `text`, which must hold at most one document. Malformed YAML, a second document or a
// limit exceeded throws InputError naming `file` and the line, counted from `first_line`
// (the README line the YAML text starts on).
Tree parse(std::string_view text, const std::string& file, size_t first_line);

}  // namespace owl::arch::yaml
