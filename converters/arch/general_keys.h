// The general.* keys convert_hf_to_gguf.py derives from a model folder: its model card
// (README.md front matter), config.json's _name_or_path, generation_config.json and the
// folder's own name.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "converters/arch/model_card.h"
#include "converters/arch/model_naming.h"
#include "converters/metadata.h"

namespace owl::arch {

struct ModelFolder {
  std::string path;  // the folder holding config.json; empty when unknown
  std::string name;  // its last component ("Qwen2.5-7B-Instruct")
};

// Receives a warning (a model card that is ignored); the conversion goes on.
using Warn = std::function<void(const std::string&)>;

// Writes general.type, the sampling defaults, general.name, ..., general.languages into
// `out`, in the reference's order. `config` holds the hf.config.* keys; `params` counts the
// output's parameters (for the size label). Reads README.md and generation_config.json
// from the folder when they exist. A README.md that cannot be read or whose front matter is not
// YAML owl accepts never stops a conversion: `warn` (if set) is told, and the card is ignored.
void write_general_keys(Metadata& out, const ModelFolder& folder, const Metadata& config,
                        const ParamCount& params, const Warn& warn = {});

// The same from already-read inputs, for tests.
void write_general_keys(Metadata& out, const ModelFolder& folder, const FrontMatter& card,
                        const Metadata& config, const Metadata& generation,
                        const ParamCount& params);

}  // namespace owl::arch
