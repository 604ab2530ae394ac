// Any model in owl's canonical form: GGUF tensor names and keys, whatever file it came from.
#pragma once

#include <string>

#include "converters/graph.h"
#include "converters/normalize.h"

namespace owl {

// Opens the model and, unless it is already GGUF-named, runs its architecture's normalizer.
Graph open_canonical(const std::string& path, const NormalizeOptions& opt = {});

}  // namespace owl
