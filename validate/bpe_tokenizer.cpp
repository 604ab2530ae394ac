#include "validate/bpe_tokenizer.h"

#include <cstring>
#include <queue>

#include "converters/tokenizer/limits.h"
#include "formats/io/error.h"
#include "validate/unicode_text.h"
#include "validate/user_defined_tokens.h"

namespace owl::validate {
namespace {

// Tokens of words already seen are reused; the cache is emptied when it grows past this many
// words, which bounds its memory on text with few repeats.
constexpr size_t kMaxCachedWords = size_t{1} << 16;

const Array& string_array(const Graph& g, const std::string& key) {
  const Value* v = g.metadata.find(key);
  if (!v || v->type() != ValueType::ARRAY)
    throw UsageError("the model has no '" + key + "' to tokenize text with");
  const Array& a = v->as_array();
  if (a.elem() != ValueType::STRING)
    throw UsageError("the model's " + key + " is not a list of strings");
  return a;
}

// GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the others
// (controls, space, 0x7F..0xA0, 0xAD) for U+0100 on, in byte order.
std::array<std::string, 256> gpt2_byte_chars() {
  std::array<std::string, 256> chars;
  uint32_t next_stand_in = 0x100;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    unicode::append_utf8(chars[b], printable ? b : next_stand_in++);
  }
  return chars;
}

// The key of a merge: the left part's length first, so that no two pairs share a key.
void pair_key(std::string& key, std::string_view left, std::string_view right) {
  const auto n = static_cast<uint32_t>(left.size());
  key.assign(reinterpret_cast<const char*>(&n), sizeof n);
  key.append(left);
  key.append(right);
}

// The byte length of the UTF-8 character at the start of `s`, by its lead byte alone (the
// byte-mapped words are always well-formed).
size_t char_length(std::string_view s) {
  const unsigned char lead = static_cast<unsigned char>(s[0]);
  const size_t n = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  return std::min(n, s.size());
}

}  // namespace

struct BpeTokenizer::Cache {
  std::unordered_map<std::string, std::vector<int32_t>> words;
  std::string key;  // scratch for rank lookups
};

BpeTokenizer::BpeTokenizer(const Graph& g) : byte_chars_(gpt2_byte_chars()) {
  pre_ = pre_tokenizer_for(g.metadata.get_string("tokenizer.ggml.pre").value_or(""));

  const Array& tokens = string_array(g, "tokenizer.ggml.tokens");
  if (tokens.size() > tok::kMaxTokens)
    throw UsageError("the model's tokenizer.ggml.tokens has " + std::to_string(tokens.size()) +
                     " tokens, more than owl reads (" + std::to_string(tok::kMaxTokens) + ")");
  ids_.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i)
    ids_.emplace(tokens.string_at(i), static_cast<int32_t>(i));

  const Array& merges = string_array(g, "tokenizer.ggml.merges");
  if (merges.size() > tok::kMaxMerges)
    throw UsageError("the model's tokenizer.ggml.merges has " + std::to_string(merges.size()) +
                     " merges, more than owl reads (" + std::to_string(tok::kMaxMerges) + ")");
  ranks_.reserve(merges.size());
  std::string key;
  for (size_t i = 0; i < merges.size(); ++i) {
    // "left right", split at the first space after the first byte as llama.cpp splits it; a
    // merge without one pairs two empty strings and never applies.
    const std::string& m = merges.string_at(i);
    const size_t space = m.find(' ', 1);
    const std::string_view whole(m);
    if (space == std::string::npos)
      pair_key(key, {}, {});
    else
      pair_key(key, whole.substr(0, space), whole.substr(space + 1));
    ranks_.emplace(key, static_cast<int32_t>(i));
  }

  user_defined_ = user_defined_tokens(g);
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  Cache cache;
  for (const Fragment& f : split_on_tokens(text, user_defined_)) {
    if (f.token >= 0)
      out.push_back(f.token);
    else
      encode_text(text.substr(f.begin, f.size), out, cache);
  }
  return out;
}

void BpeTokenizer::encode_text(std::string_view text, std::vector<int32_t>& out,
                               Cache& cache) const {
  const std::vector<uint32_t> cpts = unicode::decode_utf8(text);
  std::string utf8;
  std::string word;
  size_t begin = 0;
  for (const size_t n : split_words(pre_.rules, cpts)) {
    utf8.clear();
    for (size_t i = begin; i < begin + n; ++i) unicode::append_utf8(utf8, cpts[i]);
    begin += n;
    word.clear();
    for (const char c : utf8) word += byte_chars_[static_cast<unsigned char>(c)];

    auto hit = cache.words.find(word);
    if (hit == cache.words.end()) {
      if (cache.words.size() >= kMaxCachedWords) cache.words.clear();
      std::vector<int32_t> ids;
      encode_word(word, ids, cache.key);
      hit = cache.words.emplace(word, std::move(ids)).first;
    }
    out.insert(out.end(), hit->second.begin(), hit->second.end());
  }
}

int32_t BpeTokenizer::rank(std::string_view left, std::string_view right, std::string& key) const {
  pair_key(key, left, right);
  auto it = ranks_.find(key);
  return it == ranks_.end() ? -1 : it->second;
}

void BpeTokenizer::encode_word(const std::string& word, std::vector<int32_t>& out,
                               std::string& key) const {
  if (pre_.ignore_merges) {
    if (auto it = ids_.find(word); it != ids_.end()) {
      out.push_back(it->second);
      return;
    }
  }

  // The word's characters as a linked list of byte ranges; a merge joins a symbol with the one
  // after it.
  struct Symbol {
    size_t begin, len;
    int prev, next;
  };
  std::vector<Symbol> sym;
  const std::string_view w(word);
  for (size_t i = 0; i < w.size();) {
    const size_t n = char_length(w.substr(i));
    const int index = static_cast<int>(sym.size());
    sym.push_back({i, n, index - 1, i + n < w.size() ? index + 1 : -1});
    i += n;
  }
  auto text_of = [&](const Symbol& s) { return w.substr(s.begin, s.len); };

  // Lowest rank first; among equal ranks the leftmost pair.
  struct Pair {
    int32_t rank;
    int left, right;
    size_t len;
    bool operator<(const Pair& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Pair> queue;
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const int32_t r = rank(text_of(sym[left]), text_of(sym[right]), key);
    if (r >= 0) queue.push({r, left, right, sym[left].len + sym[right].len});
  };
  for (int i = 0; i + 1 < static_cast<int>(sym.size()); ++i) consider(i, i + 1);

  while (!queue.empty()) {
    const Pair p = queue.top();
    queue.pop();
    Symbol& a = sym[p.left];
    Symbol& b = sym[p.right];
    // A pair whose symbols have changed since it was queued no longer exists.
    if (a.len == 0 || b.len == 0 || a.next != p.right || a.len + b.len != p.len) continue;
    a.len += b.len;
    b.len = 0;
    a.next = b.next;
    if (b.next >= 0) sym[b.next].prev = p.left;
    consider(a.prev, p.left);
    consider(p.left, a.next);
  }

  for (int i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) {
    const std::string piece(text_of(sym[i]));
    if (auto it = ids_.find(piece); it != ids_.end()) {
      out.push_back(it->second);
      continue;
    }
    // A piece that is no token falls back to its single bytes, those that are tokens.
    for (const char c : piece)
      if (auto it = ids_.find(std::string(1, c)); it != ids_.end()) out.push_back(it->second);
  }
}

}  // namespace owl::validate
