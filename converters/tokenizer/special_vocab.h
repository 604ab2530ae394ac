// Special tokens, add_bos/add_eos flags, merges and chat templates, found as gguf-py's
// SpecialVocab finds them in a Hugging Face folder.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "converters/metadata.h"
#include "converters/tokenizer/chat_template.h"
#include "converters/tokenizer/hf_files.h"
#include "converters/tokenizer/ordered.h"
#include "converters/tokenizer/tokenizer.h"

namespace owl::tok {

struct SpecialVocabOptions {
  bool load_merges = false;
  uint64_t n_vocab = 0;  // ids at or past it are skipped with a warning; 0 checks nothing
  std::vector<std::string> kinds = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
};

struct SpecialVocab {
  std::vector<std::string> merges;
  Ordered<uint32_t> ids;  // "bos" -> id, in the order found
  Ordered<bool> add;      // "bos" -> add_bos_token
  ChatTemplate chat_template;
  std::optional<bool> lowercase, strip_accents;  // from tokenizer.json's normalizer
};

// In this order, each source filling only what the ones before left unset:
//  1. tokenizer.json: merges (when asked), normalizer flags, and the post-processor's add flags;
//  2. tokenizer_config.json: the chat template, add_{kind}_token flags (the post-processor's win),
//     and {kind}_token names looked up among tokenizer.json's added tokens;
//  3. config.json: {kind}_token_id (or text_config's).
SpecialVocab load_special_vocab(const HfTokenizerFiles& f, const SpecialVocabOptions& opt,
                                const TokenizerWarn& warn);

// tokenizer.ggml.merges, the special token ids, the add flags, the chat template(s) and the
// normalizer flags, in that order; kinds gguf-py has no key for are left out.
void put_special_vocab(Metadata& m, const SpecialVocab& sv);

}  // namespace owl::tok
