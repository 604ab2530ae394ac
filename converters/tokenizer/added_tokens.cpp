#include "converters/tokenizer/added_tokens.h"

#include <charconv>

#include "converters/tokenizer/json_util.h"
#include "converters/tokenizer/limits.h"
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

// One added_tokens_decoder or tokenizer.json added_tokens entry, written over its row.
void put_added_token(Vocab& v, size_t row, std::string content, bool special, AddedTokenRules rules,
                     const std::string& file, const TokenizerWarn& warn) {
  if (v.types[row] != TokenType::Unused && v.tokens[row] != content)
    warn(file + ": replacing token " + std::to_string(row) + " '" + v.tokens[row] + "' with '" +
         content + "'");
  const bool generic = rules == AddedTokenRules::Generic;
  if (special || (generic && looks_special(content))) {
    v.types[row] = TokenType::Control;
  } else {
    if (generic) content = spaces_for_word_boundaries(std::move(content));
    v.types[row] = TokenType::UserDefined;
  }
  v.scores[row] = kAddedTokenScore;
  v.tokens[row] = std::move(content);
}

void apply_added_tokens_decoder(Vocab& v, const JsonFile& config, AddedTokenRules rules,
                                const TokenizerWarn& warn) {
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
    put_added_token(v, *row, std::move(*content), truthy(member_or_null(entry, "special")), rules,
                    config.path, warn);
  }
}

// Phi3MiniModel also writes tokenizer.json's added_tokens over the vocabulary.
void apply_tokenizer_json_added(Vocab& v, const JsonFile& tokenizer, AddedTokenRules rules,
                                const TokenizerWarn& warn) {
  const Json* list = member(tokenizer.json, "added_tokens");
  if (!list) return;
  if (!list->is_array())
    throw InputError(tokenizer.path, "added_tokens is " + json_kind(*list) + ", not an array");
  if (list->size() > kMaxTokens)
    throw InputError(tokenizer.path, "added_tokens has " + std::to_string(list->size()) +
                                         " entries, more than the limit of " +
                                         std::to_string(kMaxTokens));
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& entry = (*list)[i];
    const auto id = integer_value(member_or_null(entry, "id"));
    auto content = string_member(entry, "content");
    if (!id || *id < 0 || !content)
      throw InputError(tokenizer.path, "added_tokens entry " + std::to_string(i) +
                                           " has no non-negative integer 'id' and string "
                                           "'content'");
    const auto row = row_of(*id, v, tokenizer.path, warn);
    if (!row) continue;
    put_added_token(v, *row, std::move(*content), truthy(member_or_null(entry, "special")), rules,
                    tokenizer.path, warn);
  }
}

}  // namespace

void apply_added_tokens(Vocab& v, const HfTokenizerFiles& f, AddedTokenRules rules,
                        const TokenizerWarn& warn) {
  if (f.added_tokens) apply_added_tokens_json(v, *f.added_tokens, warn);
  if (f.tokenizer_config) apply_added_tokens_decoder(v, *f.tokenizer_config, rules, warn);
  if (rules == AddedTokenRules::Phi3 && f.tokenizer)
    apply_tokenizer_json_added(v, *f.tokenizer, rules, warn);
}

}  // namespace owl::tok
