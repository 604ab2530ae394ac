#include "converters/tokenizer/keys.h"

#include <array>
#include <utility>

namespace owl::tok {
namespace {

// gguf-py's spelling, "seperator" included: llama.cpp reads these exact names.
constexpr std::array<std::pair<std::string_view, std::string_view>, 8> kSpecialIdKeys = {{
    {"bos", "tokenizer.ggml.bos_token_id"},
    {"eos", "tokenizer.ggml.eos_token_id"},
    {"unk", "tokenizer.ggml.unknown_token_id"},
    {"sep", "tokenizer.ggml.seperator_token_id"},
    {"pad", "tokenizer.ggml.padding_token_id"},
    {"mask", "tokenizer.ggml.mask_token_id"},
    {"eot", "tokenizer.ggml.eot_token_id"},
    {"eom", "tokenizer.ggml.eom_token_id"},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kAddFlagKeys = {{
    {"bos", "tokenizer.ggml.add_bos_token"},
    {"eos", "tokenizer.ggml.add_eos_token"},
    {"sep", "tokenizer.ggml.add_sep_token"},
}};

template <size_t N>
std::optional<std::string> lookup(
    const std::array<std::pair<std::string_view, std::string_view>, N>& table,
    std::string_view kind) {
  for (const auto& [k, key] : table)
    if (k == kind) return std::string(key);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> special_id_key(std::string_view kind) {
  return lookup(kSpecialIdKeys, kind);
}
std::optional<std::string> add_flag_key(std::string_view kind) {
  return lookup(kAddFlagKeys, kind);
}

Value string_array(const std::vector<std::string>& items) {
  Array a(ValueType::STRING);
  a.reserve(items.size());
  for (const auto& s : items) a.push_back(Value::string(s));
  return Value::array(std::move(a));
}

void put_vocab(Metadata& m, std::string_view model, const std::optional<std::string>& pre,
               const Vocab& v) {
  m.set(std::string(kModelKey), Value::string(std::string(model)));
  if (pre) m.set(std::string(kPreKey), Value::string(*pre));
  m.set(std::string(kTokensKey), string_array(v.tokens));
  if (!v.scores.empty()) {
    const auto* p = reinterpret_cast<const uint8_t*>(v.scores.data());
    Array scores = Array::from_bytes(ValueType::F32, {p, v.scores.size() * sizeof(float)});
    m.set(std::string(kScoresKey), Value::array(std::move(scores)));
  }
  Array types(ValueType::I32);
  types.reserve(v.types.size());
  for (TokenType t : v.types) types.push_back(Value::i32(static_cast<int32_t>(t)));
  m.set(std::string(kTokenTypeKey), Value::array(std::move(types)));
}

}  // namespace owl::tok
