// How llama.cpp's conversion names a model from its Hugging Face id or folder name:
// "Qwen2.5-7B-Instruct" -> basename "Qwen2.5", size label "7B", finetune "Instruct".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace owl::arch {

struct ModelIdParts {
  std::optional<std::string> name;  // the id without its organization
  std::optional<std::string> organization, basename, finetune, version, size_label;
};

// Splits "org/name-parts" into its parts. `total_params` (0 if unknown) tells a size label
// ("7B") from a context length ("128k"), which is kept with the finetune instead.
ModelIdParts model_id_parts(std::string_view id, int64_t total_params);

// "qwen2.5-coder" -> "Qwen2.5 Coder": words title-cased unless they are versions or numbers
// or already carry capitals.
std::string id_to_title(std::string_view id);

// "95K", "1.1B", "7.2B": the parameter count rounded to at least two significant digits.
std::string size_label(uint64_t total_params);

}  // namespace owl::arch
