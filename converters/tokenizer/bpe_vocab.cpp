#include "converters/tokenizer/bpe_vocab.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <vector>

#include "converters/tokenizer/json_util.h"
#include "converters/tokenizer/limits.h"
#include "formats/io/error.h"

namespace owl::tok {
namespace {

struct AddedToken {
  std::string content;
  bool special = false;
};

const Json& object_member(const JsonFile& f, const Json& obj, std::string_view key,
                          std::string_view where) {
  const Json* m = member(obj, key);
  if (!m || !m->is_object())
    throw InputError(f.path, std::string(where) + " has no '" + std::string(key) + "' object");
  return *m;
}

bool is_byte_level_decoder(const Json& decoder) {
  const auto type = string_member(decoder, "type");
  if (type == "ByteLevel") return true;
  if (type != "Sequence") return false;
  const Json* steps = member(decoder, "decoders");
  if (!steps || !steps->is_array()) return false;
  for (const Json& step : *steps)
    if (string_member(step, "type") == "ByteLevel") return true;
  return false;
}

// Only a byte-level BPE maps onto llama.cpp's "gpt2" tokenizer model. A SentencePiece-style BPE
// (byte_fallback, U+2581 for spaces) comes with the tokenizer.model it was made from.
void check_byte_level_bpe(const JsonFile& f, const Json& model) {
  const auto type = string_member(model, "type");
  if (type != "BPE")
    throw InputError(f.path,
                     "tokenizer model type '" + type.value_or("?") +
                         "' is not supported: owl converts byte-level BPE tokenizer.json files "
                         "and SentencePiece tokenizer.model files");
  if (truthy(member_or_null(model, "byte_fallback")))
    throw InputError(
        f.path,
        "a BPE with byte_fallback (a SentencePiece-style tokenizer.json) is not supported; "
        "convert with the model's tokenizer.model");
  if (!is_byte_level_decoder(member_or_null(f.json, "decoder")))
    throw InputError(
        f.path,
        "the decoder is not ByteLevel: only byte-level BPE tokenizer.json files are supported");
}

std::string checked_content(const JsonFile& f, const std::string& content, std::string_view where) {
  if (content.size() > kMaxTokenBytes)
    throw InputError(f.path, std::string(where) + " token of " + std::to_string(content.size()) +
                                 " bytes is longer than the limit of " +
                                 std::to_string(kMaxTokenBytes));
  return content;
}

uint64_t checked_id(const JsonFile& f, const Json& value, const std::string& content,
                    std::string_view where) {
  const auto id = integer_value(value);
  if (!id || *id < 0)
    throw InputError(f.path, std::string(where) + " token '" + content + "' has the id " +
                                 value.dump() + ", not a non-negative integer");
  if (static_cast<uint64_t>(*id) >= kMaxTokens)
    throw InputError(f.path, std::string(where) + " token '" + content + "' has the id " +
                                 std::to_string(*id) + ", past the limit of " +
                                 std::to_string(kMaxTokens));
  return static_cast<uint64_t>(*id);
}

std::unordered_map<uint64_t, AddedToken> read_added_tokens(const JsonFile& f) {
  std::unordered_map<uint64_t, AddedToken> added;
  const Json* list = member(f.json, "added_tokens");
  if (!list || list->is_null()) return added;
  if (!list->is_array())
    throw InputError(f.path, "added_tokens is " + json_kind(*list) + ", not an array");
  if (list->size() > kMaxTokens)
    throw InputError(f.path, "added_tokens has more entries than the limit");
  for (const Json& entry : *list) {
    const auto content = string_member(entry, "content");
    if (!content) throw InputError(f.path, "an added_tokens entry has no string 'content'");
    const uint64_t id = checked_id(f, member_or_null(entry, "id"), *content, "added");
    added[id] = {checked_content(f, *content, "added"), truthy(member_or_null(entry, "special"))};
  }
  return added;
}

}  // namespace

Vocab build_bpe_vocab(const JsonFile& f, uint64_t n_vocab) {
  const Json& model = object_member(f, f.json, "model", "tokenizer.json");
  check_byte_level_bpe(f, model);
  const Json& vocab = object_member(f, model, "vocab", "the tokenizer model");
  if (vocab.size() > kMaxTokens)
    throw InputError(f.path, "vocab has " + std::to_string(vocab.size()) +
                                 " tokens, more than the limit of " + std::to_string(kMaxTokens));
  const auto added = read_added_tokens(f);

  // transformers lists the vocab with the added tokens over it, by text: a text the added tokens
  // give another id no longer holds its vocab id.
  std::unordered_map<std::string, uint64_t> id_of;
  for (const auto& [content, value] : vocab.items())
    id_of[content] = checked_id(f, value, content, "vocab");
  for (const auto& [id, token] : added) id_of[token.content] = id;

  uint64_t end = 0;  // one past the highest id
  for (const auto& [content, id] : id_of) end = std::max(end, id + 1);
  if (end == 0) throw InputError(f.path, "the tokenizer has no tokens");
  const uint64_t rows =
      rows_for(end, n_vocab, f.path, "has the token id " + std::to_string(end - 1));

  std::vector<std::optional<std::string>> text(rows);
  for (const auto& [content, value] : vocab.items()) {
    const uint64_t id = id_of.at(content);
    if (id != checked_id(f, value, content, "vocab")) continue;
    if (text[id])
      throw InputError(f.path, "vocab gives the id " + std::to_string(id) + " to both '" +
                                   *text[id] + "' and '" + content + "'");
    text[id] = checked_content(f, content, "vocab");
  }
  for (const auto& [id, token] : added) text[id] = token.content;

  Vocab v;
  v.tokens.reserve(rows);
  v.types.reserve(rows);
  for (uint64_t id = 0; id < rows; ++id) {
    if (!text[id]) {
      v.tokens.push_back(pad_token_name(id));
      v.types.push_back(TokenType::Unused);
      continue;
    }
    auto a = added.find(id);
    if (a == added.end()) {
      v.tokens.push_back(std::move(*text[id]));
      v.types.push_back(TokenType::Normal);
    } else if (a->second.special || looks_special(*text[id])) {
      v.tokens.push_back(std::move(*text[id]));
      v.types.push_back(TokenType::Control);
    } else {
      v.tokens.push_back(spaces_for_word_boundaries(std::move(*text[id])));
      v.types.push_back(TokenType::UserDefined);
    }
  }
  return v;
}

}  // namespace owl::tok
