#include "converters/tokenizer/vocab.h"

#include "converters/tokenizer/limits.h"
#include "formats/io/error.h"

namespace owl::tok {
namespace {

constexpr std::string_view kWordBoundary = "\xE2\x96\x81";  // U+2581

// As Python's startswith/endswith: the two ends may overlap ("<|>" counts).
bool wrapped(const std::string& s, std::string_view open, std::string_view close) {
  return s.starts_with(open) && s.ends_with(close);
}

}  // namespace

std::string pad_token_name(uint64_t id) {
  return "[PAD" + std::to_string(id) + "]";
}

void pad_to(Vocab& v, uint64_t rows) {
  constexpr float kPadScore = -10000.0f;
  const bool scored = !v.scores.empty();
  for (uint64_t id = v.size(); id < rows; ++id) {
    v.tokens.push_back(pad_token_name(id));
    if (scored) v.scores.push_back(kPadScore);
    v.types.push_back(TokenType::Unused);
  }
}

uint64_t rows_for(uint64_t count, uint64_t n_vocab, const std::string& file,
                  const std::string& what) {
  if (n_vocab > kMaxTokens)
    throw InputError(file, "the model's token embedding has " + std::to_string(n_vocab) +
                               " rows, more than the limit of " + std::to_string(kMaxTokens) +
                               " tokens");
  if (n_vocab == 0) return count;
  if (count > n_vocab)
    throw InputError(file, what + " but the model's token embedding has only " +
                               std::to_string(n_vocab) + " rows");
  return n_vocab;
}

bool looks_special(const std::string& token) {
  // "<｜...｜>" uses U+FF5C FULLWIDTH VERTICAL LINE (deepseek-coder).
  return token == "<pad>" || token == "<mask>" || token == "<2mass>" || token == "[@BOS@]" ||
         wrapped(token, "<|", "|>") || wrapped(token, "<\xEF\xBD\x9C", "\xEF\xBD\x9C>") ||
         wrapped(token, "<unused", ">");
}

std::string spaces_for_word_boundaries(std::string text) {
  if (text.find(kWordBoundary) == std::string::npos) return text;
  std::string out;
  out.reserve(text.size());
  size_t from = 0;
  for (size_t at = text.find(kWordBoundary); at != std::string::npos;
       at = text.find(kWordBoundary, from)) {
    out.append(text, from, at - from);
    out += ' ';
    from = at + kWordBoundary.size();
  }
  out.append(text, from, std::string::npos);
  return out;
}

}  // namespace owl::tok
