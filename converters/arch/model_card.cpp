#include "converters/arch/model_card.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <unordered_set>

#include "converters/arch/yaml_tree.h"
#include "formats/io/error.h"
#include "formats/io/read_files.h"
#include "formats/io/utf8.h"

namespace owl::arch {
namespace {

using yaml::Node;

// The length of the line break at s[i], as Python's str.splitlines() sees them (gguf-py splits
// the card with it, so a form feed or U+2028 ends a front-matter line there too); 0 if none.
size_t line_break_at(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == '\r') return i + 1 < s.size() && s[i + 1] == '\n' ? 2 : 1;
  if (c == '\n' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e) return 1;
  const std::string_view rest = s.substr(i);
  if (rest.starts_with("\xc2\x85") || rest.starts_with("\xe2\x80\xa8") ||
      rest.starts_with("\xe2\x80\xa9"))
    return rest[0] == '\xc2' ? 2 : 3;
  return 0;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    if (const size_t n = line_break_at(text, i)) {
      out.push_back(text.substr(start, i - start));
      i += n;
      start = i;
    } else {
      ++i;
    }
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
}

// PyYAML refuses a stream holding a character outside YAML's printable set (C0 controls but tab
// and line breaks, DEL, C1 controls but NEL, U+FFFE/U+FFFF) or bytes that are not UTF-8 (Python
// cannot decode the card). The offending line is named, counted as README lines.
void check_characters(std::string_view yaml, const std::string& file) {
  size_t line = 2;
  for (size_t i = 0; i < yaml.size();) {
    const size_t n = utf8_sequence_length(yaml.substr(i));
    if (n == 0)
      throw InputError(file, "front matter line " + std::to_string(line) + " is not UTF-8");
    uint32_t cp = static_cast<unsigned char>(yaml[i]);
    if (n > 1) {
      cp &= 0x7fu >> n;
      for (size_t k = 1; k < n; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(yaml[i + k]) & 0x3f);
    }
    const bool printable = cp == '\t' || cp == '\n' || (cp >= 0x20 && cp <= 0x7e) || cp == 0x85 ||
                           (cp >= 0xa0 && cp <= 0xfffd) || cp >= 0x10000;
    if (!printable) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(cp));
      throw InputError(file, "front matter line " + std::to_string(line) + " holds " + hex +
                                 ", which YAML does not allow");
    }
    if (cp == '\n') ++line;
    i += n;
  }
}

// Reads values out of the tree. Aliases share nodes, so a card of a few KB could name a
// mapping of thousands of keys thousands of times, or a long scalar as often: every node looked
// at and every byte copied out is counted.
class Reader {
 public:
  Reader(const yaml::Tree& tree, const std::string& file) : tree_(tree), file_(file) {}

  FrontMatter top_level() {
    FrontMatter fm;
    if (!tree_.root) return fm;
    const Node& root = node(*tree_.root);
    // Empty or only comments: PyYAML gives None, which gguf-py reads as no card.
    if (root.kind == Node::Kind::null) return fm;
    if (root.kind != Node::Kind::mapping)
      throw InputError(file_, "front matter is a YAML " + kind_name(root) + ", not a mapping");
    for (const auto& [key, value] : entries(*tree_.root))
      fm.set(copy_text(tree_.nodes[key]), card_value(value));
    return fm;
  }

 private:
  using Pairs = std::vector<std::pair<uint32_t, uint32_t>>;  // key node, value node

  const Node& node(uint32_t id) {
    if (++visits_ > kMaxFrontMatterVisits)
      throw InputError(file_, "front matter's aliases expand past " +
                                  std::to_string(kMaxFrontMatterVisits) + " nodes");
    return tree_.nodes[id];
  }

  // A scalar's text, counted as it is copied (or hashed) out.
  const std::string& copy_text(const Node& n) {
    text_bytes_ += n.text.size();
    if (text_bytes_ > kMaxTextBytes)
      throw InputError(file_, "front matter's aliases expand past " +
                                  std::to_string(kMaxTextBytes) + " bytes of text");
    return n.text;
  }

  static std::string kind_name(const Node& n) {
    switch (n.kind) {
      case Node::Kind::null:
        return "null";
      case Node::Kind::scalar:
        return "scalar";
      case Node::Kind::sequence:
        return "list";
      case Node::Kind::mapping:
        return "mapping";
    }
    return "value";
  }

  static bool is_merge_key(const Node& key) {
    return key.kind == Node::Kind::scalar && key.plain && key.text == "<<";
  }

  // Appends a mapping's entries in the order PyYAML's safe_load enters them into a dict (a
  // later one replacing an earlier one): first the entries `<<` merge keys (YAML 1.1) bring
  // in, from a list of mappings the last first so that the first wins, then the mapping's own.
  // Keys that are not scalars make PyYAML fail ("unhashable key").
  void pairs(uint32_t id, size_t merge_depth, Pairs& out) {
    const std::vector<uint32_t>& kids = node(id).children;
    for (size_t i = 0; i + 1 < kids.size(); i += 2) {
      if (!is_merge_key(node(kids[i]))) continue;
      // PyYAML flattens merged mappings recursively; a cycle would not end there either.
      if (merge_depth >= kMaxMergeDepth)
        throw InputError(file_, "front matter merges (<<) nest too deep");
      const Node& value = node(kids[i + 1]);
      if (value.kind == Node::Kind::mapping) {
        pairs(kids[i + 1], merge_depth + 1, out);
      } else if (value.kind == Node::Kind::sequence) {
        for (size_t k = value.children.size(); k-- > 0;) {
          const uint32_t m = value.children[k];
          if (node(m).kind != Node::Kind::mapping)
            throw InputError(file_, "front matter merges (<<) a list item that is no mapping");
          pairs(m, merge_depth + 1, out);
        }
      } else {
        throw InputError(file_, "front matter merges (<<) a " + kind_name(value));
      }
    }
    for (size_t i = 0; i + 1 < kids.size(); i += 2) {
      const Node& key = node(kids[i]);
      if (is_merge_key(key)) continue;
      if (key.kind == Node::Kind::sequence || key.kind == Node::Kind::mapping)
        throw InputError(file_, "front matter has a " + kind_name(key) + " as a key");
      out.emplace_back(kids[i], kids[i + 1]);
    }
  }

  // The mapping's distinct scalar keys (as nodes) with their last values, in first-seen order.
  // Null keys are left out (owl reads none). Keys are compared by node first, so that a key
  // shared through aliases is hashed as text once.
  Pairs entries(uint32_t id) {
    Pairs all;
    pairs(id, 0, all);
    std::unordered_set<uint32_t> seen_nodes;
    std::unordered_set<std::string_view> seen_text;
    Pairs out;
    for (size_t i = all.size(); i-- > 0;) {
      const auto [key_id, value_id] = all[i];
      if (!seen_nodes.insert(key_id).second) continue;
      const Node& key = tree_.nodes[key_id];
      if (key.kind != Node::Kind::scalar) continue;
      if (seen_text.insert(copy_text(key)).second) out.emplace_back(key_id, value_id);
    }
    // Walked from the end, so that the last value wins; the order is the last occurrences'
    // (a Python dict keeps the first, which matters nowhere owl looks).
    std::reverse(out.begin(), out.end());
    return out;
  }

  CardValue card_value(uint32_t id) {
    const Node& n = node(id);
    CardValue v;
    switch (n.kind) {
      case Node::Kind::null:
        break;
      case Node::Kind::scalar:
        v.kind = CardValue::Kind::scalar;
        v.scalar = copy_text(n);
        break;
      case Node::Kind::mapping:
        v.kind = CardValue::Kind::other;
        break;
      case Node::Kind::sequence:
        v.kind = CardValue::Kind::list;
        if (n.children.size() > kMaxListItems)
          throw InputError(file_, "front matter has a list longer than " +
                                      std::to_string(kMaxListItems) + " items");
        for (uint32_t item : n.children) v.items.push_back(list_item(item));
        break;
    }
    return v;
  }

  CardValue::Item list_item(uint32_t id) {
    const Node& n = node(id);
    CardValue::Item item;
    if (n.kind == Node::Kind::scalar) item.scalar = copy_text(n);
    if (n.kind != Node::Kind::mapping) return item;
    for (const auto& [key, value_id] : entries(id)) {
      const Node& value = node(value_id);
      if (value.kind == Node::Kind::scalar)
        item.mapping.emplace_back(copy_text(tree_.nodes[key]), copy_text(value));
    }
    return item;
  }

  static constexpr size_t kMaxMergeDepth = 8;
  // Text hashed or copied out of the tree: a card's own text is at most kMaxFrontMatterBytes,
  // and a key is counted twice (hashed, then copied).
  static constexpr size_t kMaxTextBytes = 4 * kMaxFrontMatterBytes;
  const yaml::Tree& tree_;
  const std::string& file_;
  size_t visits_ = 0;
  size_t text_bytes_ = 0;
};

}  // namespace

const CardValue* FrontMatter::find(std::string_view key) const {
  for (const auto& [k, v] : entries_)
    if (k == key) return &v;
  return nullptr;
}

void FrontMatter::set(std::string key, CardValue v) {
  for (auto& [k, old] : entries_) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  entries_.emplace_back(std::move(key), std::move(v));
}

FrontMatter parse_front_matter(std::string_view text, const std::string& file) {
  const std::vector<std::string_view> lines = split_lines(text);
  if (lines.empty() || lines[0] != "---") return {};
  // Up to the closing "---", or to the end when there is none, as gguf-py reads it.
  std::string yaml;
  for (size_t i = 1; i < lines.size() && lines[i] != "---"; ++i) {
    if (yaml.size() + lines[i].size() + 1 > kMaxFrontMatterBytes || i > kMaxFrontMatterLines) {
      throw InputError(file, "front matter is longer than " + std::to_string(kMaxFrontMatterBytes) +
                                 " bytes or " + std::to_string(kMaxFrontMatterLines) + " lines");
    }
    yaml.append(lines[i]).push_back('\n');
  }
  // gguf-py's two fixes before safe_load, kept so that the same text is parsed: YAML 1.1 would
  // read a list item `no` (Norway's language code) as false, and tabs are not YAML indentation
  // (some cards indent with them). The first changes nothing owl reads, as owl keeps scalars as
  // text, except where "- no" ends a line inside a longer scalar, which gguf-py alters too.
  replace_all(yaml, "- no\n", "- \"no\"\n");
  replace_all(yaml, "\t", "  ");
  check_characters(yaml, file);
  const yaml::Tree tree = yaml::parse(yaml, file, 2);
  return Reader(tree, file).top_level();
}

FrontMatter read_front_matter(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot be read");
  remember_read_file(path);
  // The front matter sits at the top; a closing "---" past this much is refused anyway.
  std::string text(kMaxFrontMatterBytes + 4096, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return parse_front_matter(text, path);
}

}  // namespace owl::arch
