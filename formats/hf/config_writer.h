// config.json from a graph's `hf.config.*` metadata, so a written folder loads in transformers.
#pragma once

#include <string>

#include "converters/graph.h"
#include "formats/json/strict_json.h"

namespace owl::hf {

// The `hf.config.*` keys folded back into nested JSON (dotted keys become nested objects).
Json config_json(const Graph& g);

// Writes config_json(g) atomically to `path`, indented as transformers writes it.
void write_config(const Graph& g, const std::string& path);

}  // namespace owl::hf
