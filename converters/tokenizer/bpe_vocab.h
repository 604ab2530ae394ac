// The token list of a byte-level BPE tokenizer.json (GPT-2, Llama 3, Qwen2 and their kin).
#pragma once

#include <cstdint>

#include "converters/tokenizer/hf_files.h"
#include "converters/tokenizer/vocab.h"

namespace owl::tok {

// Tokens by id as convert_hf_to_gguf.py's get_vocab_base lists them: the model's vocab with the
// added tokens over it; added tokens are CONTROL when special (or when they look special) and
// USER_DEFINED otherwise (U+2581 written as a space); ids no token has are [PAD{id}] (UNUSED)
// up to `n_vocab` rows. Throws InputError naming the file for a tokenizer.json that is not a
// byte-level BPE, for malformed entries, and for an id at or past `n_vocab`.
Vocab build_bpe_vocab(const JsonFile& tokenizer, uint64_t n_vocab);

}  // namespace owl::tok
