#include "converters/arch/model_card.h"

#include <fstream>

#include "formats/io/error.h"
#include "formats/io/read_files.h"

namespace owl::arch {
namespace {

struct Line {
  size_t number;  // 1-based, in README.md
  std::string text;
};

size_t indent_of(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return i;
}

bool blank_or_comment(const std::string& s) {
  const size_t i = indent_of(s);
  return i == s.size() || s[i] == '#';
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

class Parser {
 public:
  Parser(std::vector<Line> lines, const std::string& file)
      : lines_(std::move(lines)), file_(file) {}

  FrontMatter run() {
    FrontMatter fm;
    while (pos_ < lines_.size()) {
      const Line& line = lines_[pos_];
      if (blank_or_comment(line.text)) {
        ++pos_;
        continue;
      }
      if (indent_of(line.text) != 0) fail(line, "is indented but belongs to no key");
      auto [key, rest] = split_key(line);
      ++pos_;
      fm.set(std::move(key), rest.empty() ? block_value(0) : inline_value(rest, line));
    }
    return fm;
  }

 private:
  [[noreturn]] void fail(const Line& line, const std::string& what) const {
    throw InputError(file_, "front matter line " + std::to_string(line.number) + " " + what);
  }

  // "key: rest" -> {key, rest}; quoted keys are allowed.
  std::pair<std::string, std::string> split_key(const Line& line) const {
    const std::string& s = line.text;
    size_t colon = std::string::npos;
    if (!s.empty() && (s[0] == '"' || s[0] == '\'')) {
      size_t end = 0;
      std::string key = quoted(s, 0, end, line);
      if (end >= s.size() || s[end] != ':') fail(line, "has a quoted key without ':' after it");
      return {key, trim(std::string_view(s).substr(end + 1))};
    }
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) {
        colon = i;
        break;
      }
    }
    if (colon == std::string::npos || colon == 0) fail(line, "is not 'key: value'");
    return {trim(std::string_view(s).substr(0, colon)),
            trim(std::string_view(s).substr(colon + 1))};
  }

  // A quoted string starting at s[start]; `end` is set past the closing quote.
  std::string quoted(const std::string& s, size_t start, size_t& end, const Line& line) const {
    const char q = s[start];
    std::string out;
    for (size_t i = start + 1; i < s.size(); ++i) {
      const char c = s[i];
      if (q == '\'' && c == '\'') {
        if (i + 1 < s.size() && s[i + 1] == '\'') {  // '' is a literal quote
          out += '\'';
          ++i;
          continue;
        }
        end = i + 1;
        return out;
      }
      if (q == '"' && c == '\\' && i + 1 < s.size()) {
        const char e = s[++i];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        continue;
      }
      if (q == '"' && c == '"') {
        end = i + 1;
        return out;
      }
      out += c;
    }
    fail(line, "has an unterminated quoted string");
  }

  // A scalar (plain or quoted) with nothing but a comment after it.
  CardValue scalar(const std::string& text, const Line& line) const {
    CardValue v;
    if (text[0] == '"' || text[0] == '\'') {
      size_t end = 0;
      v.scalar = quoted(text, 0, end, line);
      const std::string after = trim(std::string_view(text).substr(end));
      if (!after.empty() && after[0] != '#') fail(line, "has text after a quoted string");
      v.kind = CardValue::Kind::scalar;
      return v;
    }
    std::string plain = text;
    if (auto hash = plain.find(" #"); hash != std::string::npos)
      plain = trim(plain.substr(0, hash));
    if (plain.empty() || plain == "~" || plain == "null" || plain == "Null" || plain == "NULL")
      return v;
    v.kind = CardValue::Kind::scalar;
    v.scalar = plain;
    return v;
  }

  CardValue inline_value(const std::string& rest, const Line& line) {
    if (rest[0] == '#') return block_value(0);
    if (rest[0] == '[') return flow_list(rest, line);
    if (rest[0] == '{') return {CardValue::Kind::other, {}, {}};
    if (rest[0] == '|' || rest[0] == '>') {
      skip_deeper(0);
      return {CardValue::Kind::other, {}, {}};
    }
    return scalar(rest, line);
  }

  // [a, "b", 'c'] on one line.
  CardValue flow_list(const std::string& text, const Line& line) const {
    CardValue v{CardValue::Kind::list, {}, {}};
    size_t i = 1;
    auto skip_spaces = [&] {
      while (i < text.size() && text[i] == ' ') ++i;
    };
    skip_spaces();
    if (i < text.size() && text[i] == ']') return v;
    while (true) {
      skip_spaces();
      if (i >= text.size()) fail(line, "has an unterminated [list]");
      std::string item;
      if (text[i] == '"' || text[i] == '\'') {
        size_t end = 0;
        item = quoted(text, i, end, line);
        i = end;
      } else {
        const size_t start = i;
        while (i < text.size() && text[i] != ',' && text[i] != ']') ++i;
        item = trim(std::string_view(text).substr(start, i - start));
      }
      if (v.items.size() >= kMaxListItems)
        fail(line, "has a list longer than " + std::to_string(kMaxListItems) + " items");
      v.items.push_back({item, {}});
      skip_spaces();
      if (i >= text.size()) fail(line, "has an unterminated [list]");
      if (text[i] == ']') break;
      if (text[i] != ',')
        fail(line, "has '" + std::string(1, text[i]) + "' where ',' or ']' should be");
      ++i;
    }
    const std::string after = trim(std::string_view(text).substr(i + 1));
    if (!after.empty() && after[0] != '#') fail(line, "has text after a [list]");
    return v;
  }

  // The value of "key:" with nothing after it: a "- item" list, a nested mapping, or null.
  CardValue block_value(size_t key_indent) {
    size_t next = pos_;
    while (next < lines_.size() && blank_or_comment(lines_[next].text)) ++next;
    if (next >= lines_.size()) return {};
    const std::string& first = lines_[next].text;
    const size_t ind = indent_of(first);
    const bool dash = first.compare(ind, 2, "- ") == 0 || first.substr(ind) == "-";
    if (dash && ind >= key_indent) return block_list(ind);
    if (ind > key_indent) {
      skip_deeper(key_indent);
      return {CardValue::Kind::other, {}, {}};
    }
    return {};
  }

  CardValue block_list(size_t dash_indent) {
    CardValue v{CardValue::Kind::list, {}, {}};
    while (pos_ < lines_.size()) {
      const Line& line = lines_[pos_];
      if (blank_or_comment(line.text)) {
        ++pos_;
        continue;
      }
      const size_t ind = indent_of(line.text);
      if (ind != dash_indent || line.text.compare(ind, 1, "-") != 0) break;
      if (v.items.size() >= kMaxListItems)
        fail(line, "ends a list longer than " + std::to_string(kMaxListItems) + " items");
      const std::string rest = trim(std::string_view(line.text).substr(ind + 1));
      ++pos_;
      v.items.push_back(list_item(rest, line, ind));
    }
    return v;
  }

  CardValue::Item list_item(const std::string& rest, const Line& line, size_t dash_indent) {
    CardValue::Item item;
    if (rest.empty()) return item;
    // "- key: value" starts a mapping whose further keys are indented past the dash.
    const bool mapping = rest[0] != '"' && rest[0] != '\'' && rest[0] != '[' &&
                         (rest.find(": ") != std::string::npos || rest.back() == ':');
    if (!mapping) {
      if (rest[0] == '[' || rest[0] == '{') return item;  // nested lists are not model-card facts
      CardValue s = scalar(rest, line);
      if (s.kind == CardValue::Kind::scalar) item.scalar = s.scalar;
      return item;
    }
    add_pair(item, rest, line);
    while (pos_ < lines_.size()) {
      const Line& l = lines_[pos_];
      if (blank_or_comment(l.text)) {
        ++pos_;
        continue;
      }
      if (indent_of(l.text) <= dash_indent) break;
      ++pos_;
      add_pair(item, trim(l.text), l);
    }
    return item;
  }

  // One "key: value" of a list item's mapping; deeper structure (lists, mappings) is skipped.
  void add_pair(CardValue::Item& item, const std::string& text, const Line& line) {
    const size_t colon = text.find(':');
    if (text[0] == '-' || text[0] == '"' || text[0] == '\'' || colon == std::string::npos ||
        (colon + 1 < text.size() && text[colon + 1] != ' '))
      return;
    std::string key = trim(std::string_view(text).substr(0, colon));
    std::string value = trim(std::string_view(text).substr(colon + 1));
    if (value.empty()) {
      skip_deeper(indent_of(line.text));
      return;
    }
    CardValue v = scalar(value, line);
    if (v.kind == CardValue::Kind::scalar)
      item.mapping.emplace_back(std::move(key), std::move(v.scalar));
  }

  // Skips the lines indented deeper than `indent` (a block scalar or a nested mapping).
  void skip_deeper(size_t indent) {
    while (pos_ < lines_.size() &&
           (blank_or_comment(lines_[pos_].text) || indent_of(lines_[pos_].text) > indent))
      ++pos_;
  }

  std::vector<Line> lines_;
  const std::string& file_;
  size_t pos_ = 0;
};

// Lines split as Python's str.splitlines() splits a card: on \n, \r\n and \r.
std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == '\r') {
      out.emplace_back(text.substr(start, i - start));
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < text.size()) out.emplace_back(text.substr(start));
  return out;
}

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
  const std::vector<std::string> all = split_lines(text);
  if (all.empty() || all[0] != "---") return {};
  std::vector<Line> lines;
  size_t bytes = 0;
  bool closed = false;
  for (size_t i = 1; i < all.size(); ++i) {
    if (all[i] == "---") {
      closed = true;
      break;
    }
    bytes += all[i].size() + 1;
    if (bytes > kMaxFrontMatterBytes || lines.size() >= kMaxFrontMatterLines) {
      throw InputError(file, "front matter is longer than " + std::to_string(kMaxFrontMatterBytes) +
                                 " bytes or " + std::to_string(kMaxFrontMatterLines) + " lines");
    }
    std::string line = all[i];
    // Tabs are not YAML indentation, but some cards use them; read them as two spaces.
    for (size_t p = line.find('\t'); p != std::string::npos; p = line.find('\t', p + 2))
      line.replace(p, 1, "  ");
    lines.push_back({i + 1, std::move(line)});
  }
  if (!closed) throw InputError(file, "front matter opened with '---' on line 1 is never closed");
  return Parser(std::move(lines), file).run();
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
