#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>

#include "converters/normalize.h"
#include "formats/open.h"
#include "validate/attention.h"
#include "validate/forward.h"
#include "validate/gemma.h"
#include "validate/model_params.h"

using namespace owl;

namespace {

// The keys a converter writes for a Gemma model of `layers` layers, and a token embedding
// (shape only: reading the hyper-parameters reads no weight).
Graph gemma_graph(const std::string& arch, uint32_t layers) {
  Graph g;
  const std::string k = arch + ".";
  g.metadata.set("general.architecture", Value::string(arch));
  g.metadata.set(k + "embedding_length", Value::u32(64));
  g.metadata.set(k + "block_count", Value::u32(layers));
  g.metadata.set(k + "attention.head_count", Value::u32(4));
  g.metadata.set(k + "attention.head_count_kv", Value::u32(1));
  g.metadata.set(k + "attention.key_length", Value::u32(32));
  g.metadata.set(k + "feed_forward_length", Value::u32(128));
  g.metadata.set(k + "rope.freq_base", Value::f32(1e6f));
  Tensor embd;
  embd.name = "token_embd.weight";
  embd.shape = {100, 64};
  g.tensors.push_back(embd);
  return g;
}

std::vector<uint64_t> sliding_layers(const validate::ModelParams& p) {
  std::vector<uint64_t> out;
  for (uint64_t i = 0; i < p.n_layer; ++i)
    if (validate::sliding_layer(p, i)) out.push_back(i);
  return out;
}

// Attention written out plainly: scores, the cap, the mask, the softmax, the weighted values.
std::vector<float> naive_attention(const std::vector<float>& q, const std::vector<float>& k,
                                   const std::vector<float>& v, const validate::AttentionShape& s) {
  const uint64_t T = s.tokens, hd = s.head_dim;
  std::vector<float> out(T * hd, 0.0f);
  for (uint64_t t = 0; t < T; ++t) {
    std::vector<double> w(T, 0.0);
    double sum = 0, max = -INFINITY;
    for (uint64_t j = 0; j < T; ++j) {
      const int64_t d = static_cast<int64_t>(t) - static_cast<int64_t>(j);
      bool seen = s.causal ? d >= 0 && (!s.window || d < static_cast<int64_t>(s.window))
                           : !s.window || std::llabs(d) <= static_cast<int64_t>(s.window / 2);
      if (!seen) continue;
      double x = 0;
      for (uint64_t i = 0; i < hd; ++i) x += q[t * hd + i] * k[j * hd + i];
      x *= s.scale;
      if (s.softcap) x = s.softcap * std::tanh(x / s.softcap);
      w[j] = x;
      max = std::max(max, x);
    }
    for (uint64_t j = 0; j < T; ++j) {
      const int64_t d = static_cast<int64_t>(t) - static_cast<int64_t>(j);
      bool seen = s.causal ? d >= 0 && (!s.window || d < static_cast<int64_t>(s.window))
                           : !s.window || std::llabs(d) <= static_cast<int64_t>(s.window / 2);
      w[j] = seen ? std::exp(w[j] - max) : 0.0;
      sum += w[j];
    }
    for (uint64_t j = 0; j < T; ++j)
      for (uint64_t i = 0; i < hd; ++i)
        out[t * hd + i] += static_cast<float>(w[j] / sum * v[j * hd + i]);
  }
  return out;
}

std::vector<float> ramp(uint64_t n, float scale) {
  std::vector<float> x(n);
  for (uint64_t i = 0; i < n; ++i) x[i] = scale * std::sin(0.7f * static_cast<float>(i) + 0.3f);
  return x;
}

}  // namespace

TEST_CASE("soft-capping bends values towards +-cap and keeps small ones", "[validate][gemma]") {
  std::vector<float> v = {0.0f, 0.01f, -0.01f, 5.0f, -5.0f, 1e6f, -1e6f};
  validate::softcap(v.data(), v.size(), 30.0f);
  CHECK(v[0] == 0.0f);
  CHECK(v[1] == Approx(0.01f).epsilon(1e-6));
  CHECK(v[2] == -v[1]);
  CHECK(v[3] == Approx(30.0 * std::tanh(5.0 / 30.0)).epsilon(1e-6));
  CHECK(v[3] < 5.0f);
  CHECK(v[4] == -v[3]);
  CHECK(v[5] == 30.0f);
  CHECK(v[6] == -30.0f);
}

TEST_CASE("GELU is the tanh approximation", "[validate][gemma]") {
  CHECK(validate::gelu_tanh(0.0f) == 0.0f);
  // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), worked out at x = 1 and -2.
  // Through f16 as ggml's table is: within f16's rounding (2^-11 relative, twice).
  CHECK(validate::gelu_tanh(1.0f) == Approx(0.841192).epsilon(1e-3));
  CHECK(validate::gelu_tanh(-2.0f) == Approx(-0.0454023).epsilon(1e-3));
}

TEST_CASE("attention with soft-capped scores and windows matches the plain computation",
          "[validate][gemma]") {
  const uint64_t T = 11, hd = 8;
  const auto q = ramp(T * hd, 3.0f), k = ramp(T * hd + 5, 2.0f), v = ramp(T * hd + 9, 1.0f);
  for (const bool causal : {true, false}) {
    for (const uint64_t window : {uint64_t{0}, uint64_t{4}, uint64_t{7}}) {
      for (const float cap : {0.0f, 0.5f}) {
        validate::AttentionShape s{T, 1, 1, hd, 0.35f, window, 0, nullptr, cap, causal};
        std::vector<float> got(T * hd);
        validate::causal_attention(q.data(), k.data(), v.data(), s, got.data());
        const auto want = naive_attention(q, k, v, s);
        INFO("causal " << causal << " window " << window << " cap " << cap);
        for (uint64_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(want[i]).margin(1e-5));
      }
    }
  }
}

TEST_CASE("Gemma's sliding layers follow llama.cpp's patterns", "[validate][gemma]") {
  SECTION("Gemma 3: of each six layers the last is global; the local RoPE base is 10000") {
    Graph g = gemma_graph("gemma3", 18);
    g.metadata.set("gemma3.attention.sliding_window", Value::u32(512));
    const auto p = validate::read_model_params(g);
    std::vector<uint64_t> want;
    for (uint64_t i = 0; i < 18; ++i)
      if (i % 6 != 5) want.push_back(i);
    CHECK(sliding_layers(p) == want);
    CHECK(p.n_swa == 512);
    CHECK(p.rope_base == 1e6);
    CHECK(p.rope_base_swa == 10000.0);
    CHECK(p.swa_rope_unscaled);
    CHECK(p.attn_softcap == 0);
    CHECK(p.final_softcap == 0);
    CHECK(p.embedding_scale == std::sqrt(64.0f));
    CHECK(p.attention_scale == 1.0f / std::sqrt(32.0f));
  }
  SECTION("Gemma 3 without a window: no sliding layers") {
    const auto p = validate::read_model_params(gemma_graph("gemma3", 12));
    CHECK(sliding_layers(p).empty());
  }
  SECTION("Gemma 3 27B (62 layers) scales by the width per head") {
    Graph g = gemma_graph("gemma3", 62);
    g.metadata.set("gemma3.attention.sliding_window", Value::u32(1024));
    CHECK(validate::read_model_params(g).attention_scale == 1.0f / std::sqrt(16.0f));
  }
  SECTION("Gemma 2: every other layer slides, both soft caps default as llama.cpp's") {
    const auto p = validate::read_model_params(gemma_graph("gemma2", 6));
    CHECK(sliding_layers(p) == std::vector<uint64_t>{0, 2, 4});
    CHECK(p.n_swa == 4096);
    CHECK(p.attn_softcap == 50.0f);
    CHECK(p.final_softcap == 30.0f);
    CHECK(p.rope_base_swa == p.rope_base);
    CHECK_FALSE(p.swa_rope_unscaled);
  }
  SECTION("the pattern key: a period, or one flag per layer") {
    Graph g = gemma_graph("gemma3", 6);
    g.metadata.set("gemma3.attention.sliding_window", Value::u32(8));
    g.metadata.set("gemma3.attention.sliding_window_pattern", Value::u32(3));
    CHECK(sliding_layers(validate::read_model_params(g)) == std::vector<uint64_t>{0, 1, 3, 4});
    Array flags(ValueType::BOOL);
    for (bool f : {false, true, true, false, false}) flags.push_back(Value::boolean(f));
    g.metadata.set("gemma3.attention.sliding_window_pattern", Value::array(flags));
    CHECK_THROWS_WITH(validate::read_model_params(g), Catch::Contains("one flag per layer"));
    flags.push_back(Value::boolean(true));
    g.metadata.set("gemma3.attention.sliding_window_pattern", Value::array(flags));
    CHECK(sliding_layers(validate::read_model_params(g)) == std::vector<uint64_t>{1, 2, 5});
  }
  SECTION("EmbeddingGemma: bidirectional, pooled, its window required") {
    Graph g = gemma_graph("gemma-embedding", 6);
    CHECK_THROWS_WITH(validate::read_model_params(g), Catch::Contains("sliding_window"));
    g.metadata.set("gemma-embedding.attention.sliding_window", Value::u32(257));
    CHECK_THROWS_WITH(validate::read_model_params(g), Catch::Contains("pooling_type"));
    g.metadata.set("gemma-embedding.pooling_type", Value::u32(1));
    const auto p = validate::read_model_params(g);
    CHECK_FALSE(p.causal);
    CHECK(p.pooling == 1);
    CHECK(sliding_layers(p) == std::vector<uint64_t>{0, 1, 2, 3, 4});
  }
}

TEST_CASE("EmbeddingGemma's sentence embedding is sentence-transformers'", "[validate][gemma]") {
  // tests/data/hf/make_embeddinggemma_reference.py: the token ids, then the embedding with the
  // Dense modules, then without, as transformers and the sentence-transformers modules give it.
  const std::string dir = std::string(OWL_TEST_DATA) + "/hf/";
  std::ifstream f(dir + "reference/tiny-embeddinggemma.embedding.txt");
  REQUIRE(f);
  std::string line;
  std::getline(f, line);  // the comment
  std::vector<std::vector<double>> rows;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    rows.emplace_back(std::istream_iterator<double>(in), std::istream_iterator<double>());
  }
  REQUIRE(rows.size() == 3);
  const std::vector<int32_t> tokens(rows[0].begin(), rows[0].end());

  const std::string folder = dir + "tiny-embeddinggemma";
  Graph g = open_model(folder);
  NormalizeOptions opt;
  opt.sentence_transformers_dense = true;
  normalize(g, folder, opt);
  const validate::Forward fwd(g);
  REQUIRE(fwd.has_dense());
  for (const bool dense : {true, false}) {
    const auto got = fwd.embedding(tokens, dense);
    const auto& want = rows[dense ? 1 : 2];
    REQUIRE(got.size() == want.size());
    INFO("dense " << dense);
    // owl rounds GELU through f16 as ggml does; transformers does not.
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(2e-4));
  }
  CHECK_THROWS_WITH(fwd.logits(tokens), Catch::Contains("sentence-embedding"));
}
