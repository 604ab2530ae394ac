// Gemma, Gemma 2, Gemma 3 and EmbeddingGemma in the reference forward pass: their
// hyper-parameters as llama.cpp reads them, and the functions they add to the Llama block.
#pragma once

#include <cstdint>
#include <string_view>

#include "converters/graph.h"
#include "validate/model_params.h"

namespace owl::validate {

// gemma, gemma2, gemma3 and gemma-embedding.
bool is_gemma(std::string_view arch);

// Sets what the Gemma architectures add to the common keys `p` holds already: the embedding
// scale, GeGLU, soft-capping, the sliding layers and their RoPE base, the attention scale, and
// EmbeddingGemma's bidirectional attention and pooling. Throws UsageError naming a key that is
// missing or out of range.
void read_gemma_params(const Graph& g, ModelParams& p);

// GELU with tanh's approximation (PyTorch's gelu_pytorch_tanh) as ggml computes it on the CPU:
// through f16 (see gemma_params.cpp).
float gelu_tanh(float x);

// v = cap * tanh(v / cap) for n values (Gemma 2's logit soft-capping).
void softcap(float* v, uint64_t n, float cap);

}  // namespace owl::validate
