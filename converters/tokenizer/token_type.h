// Token types as llama.cpp numbers them in tokenizer.ggml.token_type (llama_token_type, and
// SentencePiece's own numbering, which is the same).
#pragma once

#include <cstdint>

namespace owl::tok {

enum class TokenType : int32_t {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

}  // namespace owl::tok
