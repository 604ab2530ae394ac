// Multi-head attention over one chunk, causal or not, on the GEMM microkernels.
#pragma once

#include <cstdint>

namespace owl::validate {

struct AttentionShape {
  uint64_t tokens, n_head, n_head_kv, head_dim;
  float scale;  // applied to q.k before the softmax
  // A sliding window: query t sees keys t - window + 1..t (0: all earlier keys); or chunks:
  // query t sees the keys of its own chunk of `chunk` tokens up to t (0: no chunks).
  uint64_t window = 0, chunk = 0;
  // One learned logit per head that joins every softmax without a value (gpt-oss's sinks): it
  // takes a share of the probability, so the row sums to less than one. Null: none.
  const float* sinks = nullptr;
  // Gemma 2: each scaled score s becomes cap * tanh(s / cap) before the softmax (0: none).
  float softcap = 0;
  // False: every query sees every key (EmbeddingGemma); a window then reaches window / 2
  // (rounded down) positions either way, as llama.cpp's symmetric window does.
  bool causal = true;
};

// q: [tokens, n_head, head_dim]; k, v: [tokens, n_head_kv, head_dim]; out: [tokens, n_head,
// head_dim]. Query t of head h attends to keys 0..t (or its window; all keys or its window when
// not causal) of kv head h / (n_head / n_head_kv). The softmax takes its maximum over the row,
// exponentiates in f32 and sums in double. Each head is one thread's work in a fixed order, so the
// result does not depend on the thread count.
void causal_attention(const float* q, const float* k, const float* v, const AttentionShape& s,
                      float* out);

}  // namespace owl::validate
