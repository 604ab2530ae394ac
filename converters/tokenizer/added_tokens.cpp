#include "converters/tokenizer/added_tokens.h"

#include <charconv>

#include "converters/tokenizer/json_util.h"
#include "formats/io/error.h"

namespace owl::tok {
namespace {

constexpr float kAddedTokenScore = -1000.0f;

// The id of an added token, or nullopt (after a warning) when the model has no row for it.
std::optional<size_t> row_of(int64_t id, const Vocab& v, const std::string& file,
                             const TokenizerWarn& warn) {
  if (static_cast<uint64_t>(id) >= v.size()) {
    warn(file + ": ignoring added token " + std::to_string(id) + ": the model has " +
         std::to_string(v.size()) + " token rows");
    return std::nullopt;
  }
  return static_cast<size_t>(id);
}

void apply_added_tokens_json(Vocab& v, const JsonFile& added, const TokenizerWarn& warn) {
  for (const auto& [content, value] : added.json.items()) {
    const auto id = integer_value(value);
    if (!id || *id < 0)
      throw InputError(added.path, "added token '" + content + "' has the id " + value.dump() +
                                       ", not a non-negative integer");
    const auto row = row_of(*id, v, added.path, warn);
    if (!row) continue;
    v.tokens[*row] = content;
    v.scores[*row] = kAddedTokenScore;
    v.types[*row] = TokenType::UserDefined;
  }
}

int64_t decoder_id(const std::string& key, const std::string& file) {
  int64_t id = -1;
  const char* end = key.data() + key.size();
  auto [p, ec] = std::from_chars(key.data(), end, id);
  if (ec != std::errc() || p != end || key.empty() || id < 0)
    throw InputError(file, "added_tokens_decoder key '" + key + "' is not a token id");
  return id;
}

void apply_added_tokens_decoder(Vocab& v, const JsonFile& config, const TokenizerWarn& warn) {
  const Json* decoder = member(config.json, "added_tokens_decoder");
  if (!decoder) return;
  if (!decoder->is_object())
    throw InputError(config.path,
                     "added_tokens_decoder is " + json_kind(*decoder) + ", not an object");
  for (const auto& [key, entry] : decoder->items()) {
    const int64_t id = decoder_id(key, config.path);
    auto content = string_member(entry, "content");
    if (!content)
      throw InputError(config.path,
                       "added_tokens_decoder entry " + key + " has no string 'content'");
    const auto row = row_of(id, v, config.path, warn);
    if (!row) continue;
    if (v.types[*row] != TokenType::Unused && v.tokens[*row] != *content)
      warn(config.path + ": replacing token " + key + " '" + v.tokens[*row] + "' with '" +
           *content + "'");
    if (truthy(member_or_null(entry, "special")) || looks_special(*content)) {
      v.types[*row] = TokenType::Control;
    } else {
      *content = spaces_for_word_boundaries(std::move(*content));
      v.types[*row] = TokenType::UserDefined;
    }
    v.scores[*row] = kAddedTokenScore;
    v.tokens[*row] = std::move(*content);
  }
}

}  // namespace

void apply_added_tokens(Vocab& v, const HfTokenizerFiles& f, const TokenizerWarn& warn) {
  if (f.added_tokens) apply_added_tokens_json(v, *f.added_tokens, warn);
  if (f.tokenizer_config) apply_added_tokens_decoder(v, *f.tokenizer_config, warn);
}

}  // namespace owl::tok
