// The mixes as tables: each row is one branch of llama.cpp's llama_tensor_get_type_impl (the
// llama.cpp that llama-cpp-python 0.3.36 vendors) for that file type, without an importance
// matrix. Rows are tried in order and the first that holds chooses, as llama.cpp's else-if
// chains do; a row naming the base type stops the search where llama.cpp keeps the base. Rows
// that look at the importance matrix (WithImatrix, NoImatrix) are llama.cpp's `qs.has_imatrix`.
#include <array>
#include <cctype>

#include "quant/recipe.h"

namespace owl {
namespace {

using enum TensorRole;
using enum When;
using T = ElemType;

constexpr Rule kLegacy[] = {
    {Output, T::Q6_K},
};
// With an imatrix, the first ffn_down layers of Q4_0 and Q5_0 get the type with a minimum.
constexpr Rule kQ4_0[] = {
    {Output, T::Q6_K},
    {FfnDown, T::Q4_1, WithImatrix, FirstEighth},
};
constexpr Rule kQ5_0[] = {
    {Output, T::Q6_K},
    {FfnDown, T::Q5_1, WithImatrix, FirstEighth},
};
// The IQ1 and IQ2 mixes have a branch of their own in llama.cpp, before the attn_v tail that
// the other mixes share (so no standard adjustments), with ffn_down counted by tensor.
constexpr Rule kIQ2XXS[] = {
    {Output, T::Q5_K},
    {TokenEmbd, T::Q2_K},
    {AttnV, T::Q4_K, Gqa4OrExperts4},
    {AttnV, T::Q2_K},
    {AttnK, T::Q4_K, Experts8},
    {FfnDown, T::Q2_K, FirstEighthSeen},
    {AttnOutput, T::Q5_K, Experts8},
};
constexpr Rule kIQ1[] = {
    {Output, T::Q5_K},
    {TokenEmbd, T::Q2_K},
    {AttnV, T::Q4_K, Gqa4OrExperts4},
    {AttnV, T::Q2_K},
    {AttnK, T::Q4_K, Experts8},
    {FfnDown, T::Q2_K, FirstEighthSeen},
    {AttnOutput, T::Q5_K, Experts8},
    {AttnOutput, T::IQ2_XXS},
};
constexpr Rule kIQ2S[] = {
    {Output, T::Q5_K},
    {TokenEmbd, T::IQ3_S},
    {AttnV, T::Q4_K, Gqa4OrExperts4},
    {AttnV, T::IQ3_S},
    {AttnK, T::Q4_K, Experts8},
    {FfnDown, T::IQ3_S, FirstEighthSeen},
    {AttnOutput, T::Q5_K, Experts8},
    {AttnOutput, T::IQ3_S},
};
constexpr Rule kIQ3XXS[] = {
    {Output, T::Q5_K},
    {TokenEmbd, T::IQ3_S},
    {AttnV, T::Q4_K, Gqa4},
    {AttnV, T::IQ3_S, NoImatrix},
    {AttnV, T::IQ3_XXS},
    {AttnK, T::IQ2_S},
    {AttnQ, T::IQ2_S},
    {FfnDown, T::Q4_K, NoImatrix, FirstEighth},
    {FfnDown, T::Q3_K, NoImatrix},
    {AttnOutput, T::Q5_K, NotFalcon, Experts8},
    {AttnOutput, T::IQ3_S, NotFalcon},
};
constexpr Rule kIQ3XS[] = {
    {Output, T::Q6_K},
    {AttnV, T::Q4_K, Gqa4},
    {AttnK, T::IQ3_XXS},
    {AttnQ, T::IQ3_XXS},
    {AttnOutput, T::Q5_K, NotFalcon, Experts8},
    {FfnGate, T::IQ3_XXS, MiddleLayers},
    {FfnUp, T::IQ3_XXS, MiddleLayers},
};
constexpr Rule kIQ3S[] = {
    {Output, T::Q6_K},
    {AttnV, T::Q4_K, Gqa4},
    {AttnOutput, T::Q5_K, NotFalcon, Experts8},
};
constexpr Rule kIQ3M[] = {
    {Output, T::Q6_K},
    {AttnV, T::Q4_K},
    {FfnDown, T::Q4_K, FirstEighth},
    {FfnDown, T::Q4_K, Experts8, MoreBits},
    {AttnOutput, T::Q5_K, NotFalcon, Experts8},
    {AttnOutput, T::Q4_K, NotFalcon},
};
constexpr Rule kQ2_K_S[] = {
    {Output, T::Q6_K},
    {AttnV, T::Q4_K, Gqa4},
    {FfnDown, T::Q4_K, FirstEighth},
};
constexpr Rule kQ2_K[] = {
    {Output, T::Q6_K},
    {AttnV, T::Q4_K, Gqa4},
    {AttnV, T::Q3_K},
    {FfnDown, T::Q3_K},
    {AttnOutput, T::Q5_K, NotFalcon, Experts8},
    {AttnOutput, T::Q3_K, NotFalcon},
};
constexpr Rule kQ3_K_S[] = {
    {Output, T::Q6_K},
    {AttnOutput, T::Q5_K, NotFalcon, Experts8},
};
constexpr Rule kQ3_K_M[] = {
    {Output, T::Q6_K},
    {AttnV, T::Q5_K, FirstTwo},
    {AttnV, T::Q4_K},
    {FfnDown, T::Q5_K, FirstSixteenth},
    {FfnDown, T::Q4_K, NotFalcon},
    {FfnDown, T::Q4_K, MoreBits},
    {AttnOutput, T::Q5_K, NotFalcon, Experts8},
    {AttnOutput, T::Q4_K, NotFalcon},
};
constexpr Rule kQ3_K_L[] = {
    {Output, T::Q6_K},
    {AttnV, T::Q5_K},
    {FfnDown, T::Q4_K, Falcon},
    {FfnDown, T::Q5_K},
    {AttnOutput, T::Q5_K, NotFalcon, NotExperts8},
    {AttnOutput, T::Q4_K, Falcon},
};
// IQ4_NL and IQ4_XS share their rules.
constexpr Rule kIQ4[] = {
    {Output, T::Q6_K},
    {AttnV, T::Q5_K, Gqa4},
    {FfnDown, T::Q5_K, FirstEighth, NoImatrix},
    {AttnOutput, T::Q5_K, NotFalcon, Experts8},
};
constexpr Rule kQ4_K_S[] = {
    {Output, T::Q6_K},
    {AttnV, T::Q5_K, FirstFour},
    {FfnDown, T::Q5_K, NotFalcon, FirstEighth},
    {AttnOutput, T::Q5_K, NotFalcon, Experts8},
};
constexpr Rule kQ4_K_M[] = {
    {Output, T::Q6_K},
    {AttnV, T::Q6_K, MoreBits},
    {FfnDown, T::Q6_K, Falcon, FirstSixteenth},
    {FfnDown, T::Q5_K, Falcon, MoreBits},
    {FfnDown, T::Q4_K, Falcon},
    {FfnDown, T::Q6_K, MoreBits},
    {AttnOutput, T::Q5_K, NotFalcon, Experts8},
};
constexpr Rule kQ5_K_S[] = {
    {Output, T::Q6_K},
};
constexpr Rule kQ5_K_M[] = {
    {Output, T::Q6_K},
    {AttnV, T::Q6_K, MoreBits},
    {FfnDown, T::Q6_K, MoreBits},
};
constexpr Rule kTernary[] = {
    {TokenEmbd, T::Q4_K},
    {Output, T::Q6_K},
};
// Expert matrices in MXFP4, everything else in Q8_0.
constexpr Rule kMxfp4Moe[] = {
    {Output, T::Q8_0},
    {Any, T::MXFP4, StackedExperts},
    {Any, T::Q8_0},
};
constexpr std::span<const Rule> kNoRules;

// The tail of llama.cpp's attn_v and attn_k branches, common to every mix that reaches them.
constexpr Adjustment kStandard[] = {
    {AttnV, Is70B, T::Q3_K, T::Q5_K},
    {AttnV, Is70B, T::Q4_K, T::Q5_K},
    {AttnV, Experts8, std::nullopt, T::Q8_0},
    {AttnK, Experts8, std::nullopt, T::Q8_0},
};
constexpr std::span<const Adjustment> kNoAdjustments;

// llama-quantize's order; file types are llama.h's llama_ftype values.
constexpr Mix kMixes[] = {
    {"Q1_0", 40, T::Q1_0, kLegacy, kStandard, "Q1_0 (1.125 bpw), output Q6_K"},
    {"Q2_0", 41, T::Q2_0, kTernary, kStandard, "Q2_0 (2.25 bpw); token_embd Q4_K; output Q6_K"},
    {"Q4_0", 2, T::Q4_0, kQ4_0, kStandard, "Q4_0, output Q6_K"},
    {"Q4_1", 3, T::Q4_1, kLegacy, kStandard, "Q4_1, output Q6_K"},
    {"MXFP4_MOE", 38, T::MXFP4, kMxfp4Moe, kNoAdjustments, "experts MXFP4, all else Q8_0"},
    {"Q5_0", 8, T::Q5_0, kQ5_0, kStandard, "Q5_0, output Q6_K"},
    {"Q5_1", 9, T::Q5_1, kLegacy, kStandard, "Q5_1, output Q6_K"},
    {"IQ2_XXS", 19, T::IQ2_XXS, kIQ2XXS, kNoAdjustments,
     "IQ2_XXS (2.06 bpw, needs an imatrix); attn_v, early ffn_down Q2_K; output Q5_K"},
    {"IQ2_XS", 20, T::IQ2_XS, kIQ2XXS, kNoAdjustments,
     "IQ2_XS (2.31 bpw, needs an imatrix); attn_v, early ffn_down Q2_K; output Q5_K"},
    {"IQ2_S", 28, T::IQ2_XS, kIQ2S, kNoAdjustments,
     "IQ2_XS (2.5 bpw, needs an imatrix); attn_v, attn_output, early ffn_down IQ3_S"},
    {"IQ2_M", 29, T::IQ2_S, kIQ2S, kNoAdjustments,
     "IQ2_S (2.7 bpw, needs an imatrix); attn_v, attn_output, early ffn_down IQ3_S"},
    {"IQ1_S", 24, T::IQ1_S, kIQ1, kNoAdjustments,
     "IQ1_S (1.56 bpw, needs an imatrix); attn_output IQ2_XXS; attn_v Q2_K; output Q5_K"},
    {"IQ1_M", 31, T::IQ1_M, kIQ1, kNoAdjustments,
     "IQ1_M (1.75 bpw, needs an imatrix); attn_output IQ2_XXS; attn_v Q2_K; output Q5_K"},
    {"Q2_K", 10, T::Q2_K, kQ2_K, kStandard,
     "Q2_K; attn_v, attn_output, ffn_down Q3_K (attn_v Q4_K with GQA); output Q6_K"},
    {"Q2_K_S", 21, T::Q2_K, kQ2_K_S, kStandard,
     "Q2_K (needs an imatrix); early ffn_down Q4_K; output Q6_K"},
    {"IQ3_XXS", 23, T::IQ3_XXS, kIQ3XXS, kStandard,
     "IQ3_XXS (3.06 bpw, needs an imatrix); attn_q, attn_k IQ2_S; attn_output IQ3_S"},
    {"IQ3_S", 26, T::IQ3_S, kIQ3S, kStandard, "IQ3_S (3.44 bpw); output Q6_K"},
    {"IQ3_M", 27, T::IQ3_S, kIQ3M, kStandard,
     "IQ3_S; attn_v, attn_output, early ffn_down Q4_K (3.66 bpw); output Q6_K"},
    {"IQ3_XS", 22, T::IQ3_S, kIQ3XS, kStandard,
     "IQ3_S; attn_q, attn_k, middle ffn_up/ffn_gate IQ3_XXS (3.3 bpw); output Q6_K"},
    {"Q3_K_S", 11, T::Q3_K, kQ3_K_S, kStandard, "Q3_K, output Q6_K"},
    {"Q3_K_M", 12, T::Q3_K, kQ3_K_M, kStandard,
     "Q3_K; attn_v, attn_output, ffn_down Q4_K-Q5_K; output Q6_K"},
    {"Q3_K_L", 13, T::Q3_K, kQ3_K_L, kStandard,
     "Q3_K; attn_v, attn_output, ffn_down Q5_K; output Q6_K"},
    {"IQ4_NL", 25, T::IQ4_NL, kIQ4, kStandard,
     "IQ4_NL; early ffn_down (and attn_v with GQA) Q5_K; output Q6_K"},
    {"IQ4_XS", 30, T::IQ4_XS, kIQ4, kStandard,
     "IQ4_XS; early ffn_down (and attn_v with GQA) Q5_K; output Q6_K"},
    {"Q4_K_S", 14, T::Q4_K, kQ4_K_S, kStandard,
     "Q4_K; the first attn_v and ffn_down Q5_K; output Q6_K"},
    {"Q4_K_M", 15, T::Q4_K, kQ4_K_M, kStandard,
     "Q4_K; half of attn_v and ffn_down Q6_K; output Q6_K"},
    {"Q5_K_S", 16, T::Q5_K, kQ5_K_S, kStandard, "Q5_K, output Q6_K"},
    {"Q5_K_M", 17, T::Q5_K, kQ5_K_M, kStandard,
     "Q5_K; half of attn_v and ffn_down Q6_K; output Q6_K"},
    {"Q6_K", 18, T::Q6_K, kNoRules, kStandard, "Q6_K throughout"},
    {"Q8_0", 7, T::Q8_0, kNoRules, kStandard, "Q8_0 throughout"},
    {"TQ1_0", 36, T::TQ1_0, kTernary, kStandard,
     "TQ1_0 (ternary, 1.69 bpw); token_embd Q4_K; output Q6_K"},
    {"TQ2_0", 37, T::TQ2_0, kTernary, kStandard,
     "TQ2_0 (ternary, 2.06 bpw); token_embd Q4_K; output Q6_K"},
    {"F16", 1, T::F16, kNoRules, kNoAdjustments, "F16; 1-D tensors and norms kept"},
    {"BF16", 32, T::BF16, kNoRules, kNoAdjustments, "BF16; 1-D tensors and norms kept"},
    {"F32", 0, T::F32, kNoRules, kNoAdjustments, "F32"},
};

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

std::span<const Mix> all_mixes() {
  return kMixes;
}

const Mix* find_mix(std::string_view name) {
  for (const Mix& m : kMixes)
    if (same_name(m.name, name)) return &m;
  return nullptr;
}

}  // namespace owl
