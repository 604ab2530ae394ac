#include "converters/tokenizer/families.h"

#include <array>

namespace owl::tok {
namespace {

// GemmaModel's CodeGemma infill and end-of-turn ids (it sets them for every Gemma); of these
// gguf-py writes only eot.
constexpr std::array<DefaultSpecialToken, 5> kGemmaSpecialTokens = {{
    {"prefix", 67},
    {"suffix", 69},
    {"middle", 68},
    {"fsep", 70},
    {"eot", 107},
}};

constexpr SentencePieceFamily kGeneric{};
constexpr SentencePieceFamily kGemma{AddedTokenRules::Generic, kGemmaSpecialTokens, false};
// Gemma2Model and Gemma3Model: only add_space_prefix.
constexpr SentencePieceFamily kLaterGemma{AddedTokenRules::Generic, {}, false};
// Phi3MiniModel, and PhiMoeModel, which inherits its set_vocab.
constexpr SentencePieceFamily kPhi3{AddedTokenRules::Phi3, {}, std::nullopt};

struct FamilyOf {
  std::string_view architecture;
  const SentencePieceFamily* family;
};

// gemma3_text is Gemma3ForCausalLM's (and EmbeddingGemma's) model_type.
constexpr std::array<FamilyOf, 6> kFamilies = {{
    {"gemma", &kGemma},
    {"gemma2", &kLaterGemma},
    {"gemma3", &kLaterGemma},
    {"gemma3_text", &kLaterGemma},
    {"phi3", &kPhi3},
    {"phimoe", &kPhi3},
}};

}  // namespace

const SentencePieceFamily& sentencepiece_family(std::string_view architecture) {
  for (const auto& [name, family] : kFamilies)
    if (name == architecture) return *family;
  return kGeneric;
}

}  // namespace owl::tok
