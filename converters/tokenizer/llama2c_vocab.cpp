#include "converters/tokenizer/llama2c_vocab.h"

#include <optional>
#include <vector>

#include "converters/tokenizer/limits.h"
#include "formats/io/byte_cursor.h"
#include "formats/io/error.h"

namespace owl::tok {
namespace {

constexpr std::string_view kWordBoundary = "\xE2\x96\x81";  // U+2581

struct RawToken {
  float score;
  std::string_view bytes;
};

// Walks the file; every problem names the token it is in.
std::vector<RawToken> read_tokens(ByteCursor& cur) {
  const int32_t max_len = cur.read<int32_t>("max_token_length");
  if (max_len <= 0 || static_cast<uint64_t>(max_len) > kMaxTokenBytes)
    cur.fail("max_token_length " + std::to_string(max_len) + " is out of range");
  std::vector<RawToken> tokens;
  while (!cur.at_end()) {
    if (tokens.size() >= kMaxTokens)
      cur.fail("more tokens than the limit of " + std::to_string(kMaxTokens));
    const std::string what = "token " + std::to_string(tokens.size());
    const float score = cur.read<float>(what + " score");
    const int32_t len = cur.read<int32_t>(what + " length");
    if (len < 0 || len > max_len)
      cur.fail(what + " has the length " + std::to_string(len) + ", outside 0.." +
               std::to_string(max_len));
    tokens.push_back({score, cur.take_string(static_cast<uint64_t>(len), what + " bytes")});
  }
  return tokens;
}

bool is_byte_piece(std::string_view t) {
  auto hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
  };
  return t.size() == 6 && t.starts_with("<0x") && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

std::string with_word_boundaries(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == ' ')
      out += kWordBoundary;
    else
      out += c;
  }
  return out;
}

}  // namespace

bool looks_like_llama2c_tokenizer(std::span<const std::byte> bytes) {
  try {
    ByteCursor cur(bytes, "");
    return !read_tokens(cur).empty();
  } catch (const InputError&) {
    return false;
  }
}

Vocab parse_llama2c_tokenizer(std::span<const std::byte> bytes, const std::string& file) {
  if (bytes.size() > kMaxLlama2cTokenizerBytes)
    throw InputError(file, "llama2.c tokenizer of " + std::to_string(bytes.size()) +
                               " bytes is larger than the limit of " +
                               std::to_string(kMaxLlama2cTokenizerBytes));
  ByteCursor cur(bytes, file);
  const auto raw = read_tokens(cur);
  if (raw.size() <= kLlama2cEosId)
    throw InputError(file, "llama2.c tokenizer has " + std::to_string(raw.size()) +
                               " tokens; it needs at least <unk>, <s> and </s>");
  Vocab v;
  v.tokens.reserve(raw.size());
  v.scores.reserve(raw.size());
  v.types.reserve(raw.size());
  for (size_t id = 0; id < raw.size(); ++id) {
    // The exporter wrote <s> and </s> as "\n<s>\n" and "\n</s>\n": their names are fixed here.
    std::string text;
    TokenType type = TokenType::Normal;
    if (id == kLlama2cUnkId) {
      text = "<unk>";
      type = TokenType::Unknown;
    } else if (id == kLlama2cBosId) {
      text = "<s>";
      type = TokenType::Control;
    } else if (id == kLlama2cEosId) {
      text = "</s>";
      type = TokenType::Control;
    } else {
      text = with_word_boundaries(raw[id].bytes);
      if (raw[id].bytes.empty())
        type = TokenType::Control;
      else if (is_byte_piece(raw[id].bytes))
        type = TokenType::Byte;
    }
    v.tokens.push_back(std::move(text));
    v.scores.push_back(raw[id].score);
    v.types.push_back(type);
  }
  return v;
}

}  // namespace owl::tok
