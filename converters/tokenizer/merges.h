// BPE merges from tokenizer.json, in the "a b" form tokenizer.ggml.merges holds.
#pragma once

#include <string>
#include <vector>

#include "converters/tokenizer/hf_files.h"

namespace owl::tok {

// model.merges as "a b" strings: the older string form is kept as it is; the [a, b] pair form
// (tokenizers 0.20 and later) is joined with a space after writing each space inside a part as
// U+0120, which is what a space is in byte-level text. Empty when there are none. Throws
// InputError naming the file for any other form.
std::vector<std::string> read_merges(const JsonFile& tokenizer);

}  // namespace owl::tok
