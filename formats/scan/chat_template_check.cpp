#include "formats/scan/chat_template_check.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace owl::scan {
namespace {

// Names through which template sandboxes have been escaped, or that only make sense to reach
// the host: Flask's and Jinja's globals, Python's frame and function internals, modules.
constexpr std::array<std::string_view, 27> kEscapeNames = {
    "os",         "sys",           "subprocess",
    "builtins",   "globals",       "locals",
    "vars",       "getattr",       "setattr",
    "delattr",    "lipsum",        "cycler",
    "joiner",     "self",          "config",
    "request",    "url_for",       "mro",
    "f_globals",  "func_globals",  "gi_frame",
    "gi_code",    "tb_frame",      "cr_frame",
    "f_builtins", "import_module", "get_flashed_messages"};

// Harmless as data field names, but calls to them run code or touch files.
constexpr std::array<std::string_view, 9> kEscapeCalls = {
    "eval", "exec", "compile", "open", "system", "popen", "spawn", "spawnv", "execv"};

// Statements that pull in other templates: a chat template is one self-contained string.
constexpr std::array<std::string_view, 4> kLoadingStatements = {"import", "from", "include",
                                                                "extends"};

template <size_t N>
bool contains(const std::array<std::string_view, N>& set, std::string_view name) {
  return std::find(set.begin(), set.end(), name) != set.end();
}

bool is_ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

struct Token {
  enum Kind { Ident, String, Punct, End } kind = End;
  std::string_view text;
  size_t offset = 0;
};

// Reads the tokens of one `{{ }}` or `{% %}` tag; stops at its closing delimiter (outside
// strings) or at the end of the template.
class TagLexer {
 public:
  // `{%-` and `{%+` (and `{{-`) only control whitespace around the tag.
  TagLexer(std::string_view s, size_t pos, char close) : s_(s), pos_(pos), close_(close) {
    if (pos_ < s_.size() && (s_[pos_] == '-' || s_[pos_] == '+')) ++pos_;
  }

  Token next() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    if (pos_ >= s_.size()) return {Token::End, {}, pos_};
    const size_t start = pos_;
    const char c = s_[pos_];
    // "-}}" and "-%}" trim whitespace; "}}" / "%}" end the tag.
    const size_t after_dash = c == '-' ? pos_ + 1 : pos_;
    if (after_dash + 1 < s_.size() && s_[after_dash] == close_ && s_[after_dash + 1] == '}') {
      pos_ = after_dash + 2;
      return {Token::End, {}, start};
    }
    if (is_ident_start(c)) {
      while (pos_ < s_.size() && is_ident_char(s_[pos_])) ++pos_;
      return {Token::Ident, s_.substr(start, pos_ - start), start};
    }
    if (c == '\'' || c == '"') {
      ++pos_;
      while (pos_ < s_.size() && s_[pos_] != c) pos_ += s_[pos_] == '\\' ? 2 : 1;
      pos_ = std::min(pos_ + 1, s_.size());
      return {Token::String, s_.substr(start, pos_ - start), start};
    }
    ++pos_;
    return {Token::Punct, s_.substr(start, 1), start};
  }
  size_t pos() const { return pos_; }

 private:
  std::string_view s_;
  size_t pos_;
  char close_;
};

// An escape that spells a character by its code: `\x5f` is how `_` hides from a plain search.
bool has_code_escape(std::string_view literal) {
  for (size_t i = 0; i + 1 < literal.size(); ++i) {
    if (literal[i] != '\\') continue;
    const char e = literal[i + 1];
    if (e == 'x' || e == 'u' || e == 'U' || e == 'N' || (e >= '0' && e <= '7')) return true;
    ++i;
  }
  return false;
}

void check_tag(std::string_view s, TagLexer& lex, bool statement, std::vector<TemplateIssue>& out) {
  auto flag = [&](const Token& t, std::string what) { out.push_back({t.offset, std::move(what)}); };
  Token prev;
  Token t = lex.next();
  if (statement && t.kind == Token::Ident && contains(kLoadingStatements, t.text))
    flag(t, "loads another template with `" + std::string(t.text) + "`");
  for (; t.kind != Token::End; prev = t, t = lex.next()) {
    if (t.kind == Token::String) {
      if (t.text.find("__") != std::string_view::npos)
        flag(t, "a string spells a Python internal name: " + std::string(t.text.substr(0, 40)));
      if (has_code_escape(t.text))
        flag(t, "a string hides characters behind escapes: " + std::string(t.text.substr(0, 40)));
      continue;
    }
    if (t.kind != Token::Ident) continue;
    const std::string name(t.text);
    if (name.find("__") != std::string::npos)
      flag(t, "reaches Python internals through `" + name + "`");
    else if (contains(kEscapeNames, t.text))
      flag(t, "uses `" + name + "`, a known way out of the template sandbox");
    else if (prev.kind == Token::Punct && prev.text == "|" && name == "attr")
      flag(t, "reads attributes by computed name (the `attr` filter)");
    else if (contains(kEscapeCalls, t.text)) {
      const size_t save = lex.pos();
      size_t p = save;
      while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
      if (p < s.size() && s[p] == '(') flag(t, "calls `" + name + "(...)`");
    }
  }
}

}  // namespace

std::vector<TemplateIssue> check_chat_template(std::string_view s) {
  std::vector<TemplateIssue> out;
  size_t pos = 0;
  while ((pos = s.find('{', pos)) != std::string_view::npos && pos + 1 < s.size()) {
    const char kind = s[pos + 1];
    if (kind == '#') {  // a comment: nothing in it runs
      const size_t end = s.find("#}", pos + 2);
      pos = end == std::string_view::npos ? s.size() : end + 2;
      continue;
    }
    if (kind != '{' && kind != '%') {
      ++pos;
      continue;
    }
    TagLexer lex(s, pos + 2, kind == '{' ? '}' : '%');
    check_tag(s, lex, kind == '%', out);
    pos = lex.pos();
  }
  return out;
}

}  // namespace owl::scan
