// The GGUF keys of a tokenizer, named as gguf-py's constants name them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "converters/metadata.h"
#include "converters/tokenizer/vocab.h"

namespace owl::tok {

inline constexpr std::string_view kKeyPrefix = "tokenizer.";
inline constexpr std::string_view kModelKey = "tokenizer.ggml.model";
inline constexpr std::string_view kPreKey = "tokenizer.ggml.pre";
inline constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
inline constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
inline constexpr std::string_view kTokenTypeKey = "tokenizer.ggml.token_type";
inline constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";
inline constexpr std::string_view kAddSpacePrefixKey = "tokenizer.ggml.add_space_prefix";
inline constexpr std::string_view kLowercaseKey = "tokenizer.ggml.normalizer.lowercase";
inline constexpr std::string_view kStripAccentsKey = "tokenizer.ggml.normalizer.strip_accents";
inline constexpr std::string_view kChatTemplateKey = "tokenizer.chat_template";
inline constexpr std::string_view kChatTemplatesKey = "tokenizer.chat_templates";

// The key of a special token's id ("bos" -> tokenizer.ggml.bos_token_id), or nullopt for the
// kinds gguf-py has no key for (cls, prefix, ...), which convert_hf_to_gguf.py skips.
std::optional<std::string> special_id_key(std::string_view kind);
// The key of an add_{kind}_token flag, or nullopt where gguf-py has none.
std::optional<std::string> add_flag_key(std::string_view kind);

// tokenizer.ggml.model, .pre (when given), .tokens, .scores (when the vocab has them) and
// .token_type, in that order.
void put_vocab(Metadata& m, std::string_view model, const std::optional<std::string>& pre,
               const Vocab& v);

// A string array value.
Value string_array(const std::vector<std::string>& items);

}  // namespace owl::tok
