#include <catch2/catch.hpp>

#include <cmath>

#include "validate/chunks.h"
#include "validate/metrics.h"

using namespace owl::validate;

TEST_CASE("identical logits drift by nothing", "[validate]") {
  const float a[4] = {1, 2, 3, 4};
  const TokenScore s = score_position(a, a, 4, 2);
  CHECK(s.kld == Approx(0).margin(1e-12));
  CHECK(s.same_top1);
  CHECK(s.nll_ref == Approx(std::log(std::exp(1) + std::exp(2) + std::exp(3) + std::exp(4)) - 3));
}

TEST_CASE("KL divergence matches the closed form for two distributions", "[validate]") {
  // P = softmax(log p), Q = softmax(log q): KL = sum p log(p/q).
  const double p[3] = {0.5, 0.3, 0.2}, q[3] = {0.2, 0.3, 0.5};
  float lp[3], lq[3];
  for (int i = 0; i < 3; ++i) {
    lp[i] = static_cast<float>(std::log(p[i]) + 7);  // shifts do not change a softmax
    lq[i] = static_cast<float>(std::log(q[i]) - 3);
  }
  double expect = 0;
  for (int i = 0; i < 3; ++i) expect += p[i] * std::log(p[i] / q[i]);
  const TokenScore s = score_position(lp, lq, 3, 0);
  CHECK(s.kld == Approx(expect).epsilon(1e-5));
  CHECK_FALSE(s.same_top1);
  CHECK(s.p_ref == Approx(0.5).epsilon(1e-5));
  CHECK(s.p_test == Approx(0.2).epsilon(1e-5));
}

TEST_CASE("summaries give perplexity, agreement and quantiles", "[validate]") {
  std::vector<TokenScore> scores;
  for (int i = 1; i <= 100; ++i) {
    TokenScore t;
    t.kld = i / 100.0;
    t.nll_ref = std::log(2.0);
    t.nll_test = std::log(4.0);
    t.p_ref = 0.5;
    t.p_test = 0.25;
    t.same_top1 = i % 4 != 0;
    scores.push_back(t);
  }
  const DriftSummary s = summarize(scores);
  CHECK(s.tokens == 100);
  CHECK(s.ppl_ref == Approx(2.0));
  CHECK(s.ppl_test == Approx(4.0));
  CHECK(s.top1_agreement == Approx(0.75));
  CHECK(s.delta_p_rms == Approx(0.25));
  CHECK(s.kld.mean == Approx(0.505));
  CHECK(s.kld.median == Approx(0.51));
  CHECK(s.kld.p99 == Approx(0.99));
  CHECK(s.kld.max == Approx(1.0));
  CHECK(s.kld.stderr_ == Approx(std::sqrt(0.0841666 / 100)).epsilon(1e-3));
}

TEST_CASE("chunks are cut like llama-perplexity's", "[validate]") {
  std::vector<int32_t> stream(1000);
  for (int i = 0; i < 1000; ++i) stream[i] = i + 10;
  auto chunks = make_chunks(stream, 256, 1);
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[1].tokens[0] == 1);
  CHECK(chunks[1].tokens[1] == 256 + 1 + 10);
  CHECK(chunks[2].first_scored == 128);
  CHECK(make_chunks(stream, 256, std::nullopt)[0].tokens[0] == 10);
}
