// Chat templates: tokenizer.chat_template, and the named ones of the list form.
#pragma once

#include <optional>
#include <string>

#include "converters/metadata.h"
#include "converters/tokenizer/hf_files.h"
#include "converters/tokenizer/tokenizer.h"

namespace owl::tok {

struct ChatTemplate {
  Json value;        // a string, a list of {"name", "template"} objects, or null for none
  std::string file;  // where it came from, for errors
};

// The chat template of a folder as gguf-py's SpecialVocab finds it: tokenizer_config.json's
// chat_template when it has that key; else chat_template.jinja (a list with the named templates
// of additional_chat_templates/*.jinja when there are any); else chat_template.json's
// chat_template. A value that is neither a string nor a list is ignored with a warning.
ChatTemplate find_chat_template(const std::string& folder, const JsonFile& tokenizer_config,
                                const TokenizerWarn& warn);

// A string becomes tokenizer.chat_template. In the list form each named template becomes
// tokenizer.chat_template.NAME (NAME with every character but ASCII letters and digits written
// as '_'), tokenizer.chat_templates lists the names, and the one named "default" becomes
// tokenizer.chat_template. Throws InputError naming the file for malformed entries.
void put_chat_template(Metadata& m, const ChatTemplate& t);

}  // namespace owl::tok
