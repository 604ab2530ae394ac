// The order llama.cpp takes tensors in when it quantizes. Its model loader keeps the tensors in a
// map sorted by layer (the number in "blk.N.", -1 for the others), then by name, and
// llama-quantize walks that map: its per-layer counters count in that order, and it writes the
// output's tensors in that order, whatever order the input file had them in. With --keep-split it
// instead takes them part by part of a split input, each part in the order of its bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "converters/graph.h"

namespace owl {

// The layer llama.cpp's loader sorts `name` under: what sscanf(name, "blk.%d.", &layer) leaves
// in a layer that starts at -1.
int32_t llama_sort_layer(std::string_view name);

// True when llama.cpp's loader puts a tensor named `a` before one named `b`.
bool llama_tensor_before(std::string_view a, std::string_view b);

// The indexes of g.tensors in llama.cpp's order.
std::vector<size_t> llama_tensor_order(const Graph& g);

// Reorders g.tensors into llama.cpp's order, so that a quantized file lists and stores its
// tensors as llama-quantize's does.
void sort_tensors_like_llama(Graph& g);

// The indexes of g.tensors by input part, then by offset in the part (--keep-split's order).
std::vector<size_t> input_tensor_order(const Graph& g);
void sort_tensors_by_input(Graph& g);

}  // namespace owl
