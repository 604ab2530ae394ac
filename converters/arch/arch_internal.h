// The passes behind arch.h, one per source kind.
#pragma once

#include "converters/graph.h"

namespace owl::arch {

void hf_to_gguf(Graph& g);
void llama2c_to_gguf(Graph& g);
void gguf_to_hf(Graph& g);

}  // namespace owl::arch
