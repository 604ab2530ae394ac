// What a chat template (Jinja, which llama.cpp, Ollama and transformers execute when they format
// a conversation) may not do. Sandboxes for Jinja have been escaped through Python's object
// internals (`''.__class__.__mro__[1].__subclasses__()`), through the helpers some runtimes put
// in scope (`lipsum.__globals__`, `cycler`, `self`), and through names spelled with escapes
// (`|attr('\x5f\x5fclass\x5f\x5f')`). Real chat templates need none of that: they read message
// fields, loop, test and concatenate. The check flags each of those routes, and nothing that the
// templates models ship (llama.cpp's collection of them is the benign corpus in the tests).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace owl::scan {

struct TemplateIssue {
  size_t offset = 0;  // byte offset of the offending token in the template
  std::string what;   // "reaches Python internals through `__class__`"
};

std::vector<TemplateIssue> check_chat_template(std::string_view jinja);

}  // namespace owl::scan
