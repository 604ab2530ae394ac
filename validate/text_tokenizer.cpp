#include "validate/text_tokenizer.h"

#include <cstdio>
#include <queue>

#include "formats/io/error.h"
#include "validate/bpe_tokenizer.h"

namespace owl::validate {
namespace {

const char* const kSpaceMarker = "\xe2\x96\x81";  // U+2581, SentencePiece's visible space

// The length llama.cpp's SPM tokenizer gives a symbol from its first byte alone, so that text
// with invalid UTF-8 (0xF8..0xFF included) is cut into the same symbols.
size_t utf8_length(unsigned char lead) {
  static constexpr size_t kByHighNibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kByHighNibble[lead >> 4];
}

const Array& string_array(const Graph& g, const std::string& key) {
  const Value* v = g.metadata.find(key);
  if (!v || v->type() != ValueType::ARRAY)
    throw UsageError("the model has no '" + key + "' to tokenize text with");
  return v->as_array();
}

}  // namespace

SpmTokenizer::SpmTokenizer(const Graph& g) : byte_ids_(256, -1) {
  const Array& tokens = string_array(g, "tokenizer.ggml.tokens");
  const Array& scores = string_array(g, "tokenizer.ggml.scores");
  const bool numeric_scores =
      Array::element_bytes(scores.elem()) != 0 && scores.elem() != ValueType::BOOL;
  if (tokens.elem() != ValueType::STRING || !numeric_scores || scores.size() != tokens.size())
    throw UsageError("the model's tokenizer.ggml.tokens and scores do not match");
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& piece = tokens.string_at(i);
    ids_.emplace(piece, static_cast<int32_t>(i));
    scores_.push_back(static_cast<float>(*scores[i].to_double()));
    unsigned byte;
    if (piece.size() == 6 && std::sscanf(piece.c_str(), "<0x%02X>", &byte) == 1)
      byte_ids_[byte] = static_cast<int32_t>(i);
  }
  unk_ = static_cast<int32_t>(g.metadata.get_int("tokenizer.ggml.unknown_token_id").value_or(0));
  if (const Value* v = g.metadata.find("tokenizer.ggml.add_space_prefix");
      v && v->type() == ValueType::BOOL)
    add_space_prefix_ = v->as_bool();
  user_defined_ = user_defined_tokens(g);
}

std::vector<int32_t> SpmTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  bool after_token = true;  // the start of the text counts as following a token
  for (const Fragment& f : split_on_tokens(text, user_defined_)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_token = true;
    } else {
      encode_text(text.substr(f.begin, f.size), add_space_prefix_ && after_token, out);
      after_token = false;
    }
  }
  return out;
}

void SpmTokenizer::encode_text(std::string_view text, bool space_prefix,
                               std::vector<int32_t>& out) const {
  std::string s;
  if (space_prefix) s += kSpaceMarker;
  for (char c : text) c == ' ' ? s += kSpaceMarker : s += c;

  // Symbols as a linked list of byte ranges; merges join a symbol with its right neighbour.
  struct Symbol {
    size_t begin, len;
    int prev, next;
  };
  std::vector<Symbol> sym;
  for (size_t i = 0; i < s.size();) {
    const size_t n = std::min(utf8_length(static_cast<unsigned char>(s[i])), s.size() - i);
    sym.push_back({i, n, static_cast<int>(sym.size()) - 1, static_cast<int>(sym.size()) + 1});
    i += n;
  }
  if (!sym.empty()) sym.back().next = -1;

  struct Bigram {
    float score;
    int left;
    size_t len;
    bool operator<(const Bigram& o) const {
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::priority_queue<Bigram> queue;
  auto try_pair = [&](int left) {
    if (left < 0 || sym[left].next < 0) return;
    const Symbol& a = sym[left];
    const size_t len = a.len + sym[a.next].len;
    auto it = ids_.find(s.substr(a.begin, len));
    if (it != ids_.end()) queue.push({scores_[it->second], left, len});
  };
  for (int i = 0; i + 1 < static_cast<int>(sym.size()); ++i) try_pair(i);
  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& a = sym[b.left];
    if (a.len == 0 || a.next < 0 || a.len + sym[a.next].len != b.len) continue;  // stale
    Symbol& right = sym[a.next];
    a.len += right.len;
    right.len = 0;
    a.next = right.next;
    if (a.next >= 0) sym[a.next].prev = b.left;
    try_pair(a.prev);
    try_pair(b.left);
  }

  for (int i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) {
    const std::string piece = s.substr(sym[i].begin, sym[i].len);
    auto it = ids_.find(piece);
    if (it != ids_.end()) {
      out.push_back(it->second);
      continue;
    }
    for (unsigned char c : piece) out.push_back(byte_ids_[c] >= 0 ? byte_ids_[c] : unk_);
  }
}

std::vector<int32_t> tokenize_text(const Graph& g, std::string_view text) {
  const auto model = g.metadata.get_string("tokenizer.ggml.model");
  if (model == "llama") return SpmTokenizer(g).encode(text);
  if (model == "gpt2") return BpeTokenizer(g).encode(text);
  throw UsageError("tokenizing text for tokenizer model '" + model.value_or("(none)") +
                   "' is not supported yet; give token ids with --tokens");
}

}  // namespace owl::validate
