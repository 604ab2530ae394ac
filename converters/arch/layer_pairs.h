// The way back of a family's split_tensor hook: two GGUF tensors of each layer joined into the
// one Hugging Face tensor they were cut from (Granite's shared expert input, DeepSeek's
// kv_b_proj), before the names are mapped back.
#pragma once

#include <functional>
#include <string_view>

#include "converters/graph.h"

namespace owl::arch {

// For every layer with a "blk.N.<first>" tensor, replaces it, where it stands, with
// join(first, second) of its layer's "blk.N.<second>" (names with their ".weight"); the seconds
// are dropped. `joined` names the Hugging Face tensor in errors. Throws UsageError for a first
// without its second or a second left over.
void join_layer_pairs(Graph& g, std::string_view first, std::string_view second,
                      std::string_view joined,
                      const std::function<Tensor(const Tensor& first, const Tensor& second)>& join);

}  // namespace owl::arch
