// What a tokenizer.json's post_processor says about the special tokens that encoding adds.
#pragma once

#include <string>
#include <vector>

#include "converters/tokenizer/ordered.h"
#include "converters/tokenizer/tokenizer.h"
#include "formats/json/strict_json.h"

namespace owl::tok {

// Reads tokenizer.json's post_processor (ByteLevel, RobertaProcessing, TemplateProcessing, or a
// Sequence of them) as gguf-py's SpecialVocab does:
//  - sets add flags ("bos", "eos", "sep") in `add`;
//  - fills tokenizer_config's bos/cls/eos/sep/eot/eom_token entries in `config` (a copy of the
//    file; null when there is none) where the template names a token the config lacks, and adds
//    "eot"/"eom" to `kinds` when the template's last token replaces the configured EOS.
// Templates it cannot read are skipped with a warning, never an error: they only decide flags.
void read_post_processor(const Json& tokenizer, Json& config, std::vector<std::string>& kinds,
                         Ordered<bool>& add, const std::string& file, const TokenizerWarn& warn);

}  // namespace owl::tok
