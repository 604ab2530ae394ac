// The passes behind arch.h, one per source kind.
#pragma once

#include <functional>
#include <string>

#include "converters/arch/arch.h"
#include "converters/graph.h"

namespace owl::arch {

struct Family;

void hf_to_gguf(Graph& g, const std::function<void(const std::string&)>& warn,
                const ToGgufOptions& options);
// The family of a graph read from a Hugging Face folder; InputError naming config.json when owl
// does not convert its architecture.
const Family& hf_family(const Graph& g);
void llama2c_to_gguf(Graph& g);
void gguf_to_hf(Graph& g);

}  // namespace owl::arch
