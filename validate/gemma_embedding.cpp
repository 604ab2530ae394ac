// EmbeddingGemma's sentence embedding: pooling, the sentence-transformers Dense layers, unit
// length, as llama.cpp's embedding path gives it (build_pooling, build_dense_out, then the
// Euclidean normalisation of llama-embedding and llama-cpp-python's embed()).
#include <algorithm>
#include <cmath>

#include "formats/io/error.h"
#include "validate/forward.h"

namespace owl::validate {

std::vector<float> Forward::embedding(std::span<const int32_t> tokens, bool dense) const {
  if (!p_.pooling)
    throw UsageError("the " + p_.arch + " model is a language model, not a sentence-embedding one");
  const uint64_t T = tokens.size(), d = p_.n_embd;
  if (T == 0) throw UsageError("no tokens to embed");
  const std::vector<float> x = hidden(tokens);
  std::vector<float> e(d);
  if (p_.pooling == 1) {
    for (uint64_t i = 0; i < d; ++i) {
      double sum = 0;
      for (uint64_t t = 0; t < T; ++t) sum += x[t * d + i];
      e[i] = static_cast<float>(sum / static_cast<double>(T));
    }
  } else {
    const uint64_t t = p_.pooling == 2 ? 0 : T - 1;  // the first token, or the last
    std::copy_n(x.data() + t * d, d, e.data());
  }
  for (const Weight* w : {&dense_2_, &dense_3_}) {
    if (!dense || !w->present()) continue;
    if (w->cols() != e.size())
      throw UsageError("tensor '" + w->name() + "' takes " + std::to_string(w->cols()) +
                       " values, the embedding before it has " + std::to_string(e.size()));
    std::vector<float> out(w->rows());
    mul(*w, e.data(), 1, out.data());
    e = std::move(out);
  }
  double ss = 0;
  for (float v : e) ss += static_cast<double>(v) * v;
  const double inv = ss > 0 ? 1.0 / std::sqrt(ss) : 0.0;
  for (float& v : e) v = static_cast<float>(v * inv);
  return e;
}

}  // namespace owl::validate
