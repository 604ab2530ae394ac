// Opens any model path owl can read, recognising the format by its bytes, not its name.
#pragma once

#include <string>

#include "converters/graph.h"

namespace owl {

// A file (safetensors, GGUF, llama2.c, a PyTorch zip or legacy checkpoint), an index
// (*.safetensors.index.json, pytorch_model.bin.index.json) or a Hugging Face model folder.
// Throws InputError naming the path when it is none of these.
Graph open_model(const std::string& path);

}  // namespace owl
