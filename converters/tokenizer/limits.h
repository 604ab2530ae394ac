// Bounds on tokenizer inputs. Real tokenizers stay far below each; the bounds keep a hostile
// file from asking for huge allocations.
#pragma once

#include <cstdint>

namespace owl::tok {

// tokenizer.json of the largest vocabularies (Gemma 3, 262k tokens) is about 33 MB.
inline constexpr uint64_t kMaxTokenizerJsonBytes = 256ull << 20;
// SentencePiece models are a few MB; llama2.c tokenizers a few hundred KB.
inline constexpr uint64_t kMaxSentencePieceBytes = 64ull << 20;
inline constexpr uint64_t kMaxLlama2cTokenizerBytes = 64ull << 20;
// tokenizer_config.json, added_tokens.json, config.json, chat templates and the like.
inline constexpr uint64_t kMaxSideFileBytes = 64ull << 20;

inline constexpr uint64_t kMaxTokens = 1ull << 22;
inline constexpr uint64_t kMaxMerges = 1ull << 23;
inline constexpr uint64_t kMaxTokenBytes = 1ull << 16;
inline constexpr uint64_t kMaxChatTemplates = 1024;
// How deep owl follows nested Sequence normalizers and pre-tokenizers (real ones nest once).
inline constexpr int kMaxSequenceDepth = 16;

}  // namespace owl::tok
