// Tokens that fine-tunes add to a SentencePiece vocabulary: added_tokens.json and
// tokenizer_config.json's added_tokens_decoder.
#pragma once

#include "converters/tokenizer/families.h"
#include "converters/tokenizer/hf_files.h"
#include "converters/tokenizer/tokenizer.h"
#include "converters/tokenizer/vocab.h"

namespace owl::tok {

// Writes the added tokens over `v` (already padded to the model's rows) as
// convert_hf_to_gguf.py does: added_tokens.json entries become USER_DEFINED; then
// added_tokens_decoder entries (and for Phi-3 tokenizer.json's added_tokens) become CONTROL or
// USER_DEFINED as `rules` says. All score -1000. Ids past the rows are skipped with a warning.
void apply_added_tokens(Vocab& v, const HfTokenizerFiles& f, AddedTokenRules rules,
                        const TokenizerWarn& warn);

}  // namespace owl::tok
