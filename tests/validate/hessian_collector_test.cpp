#include <catch2/catch.hpp>

#include <omp.h>

#include <random>

#include "formats/io/error.h"
#include "validate/hessian_collector.h"

using namespace owl;
using namespace owl::validate;

TEST_CASE("the Hessian collector sums XᵀX over the tokens", "[gptq]") {
  HessianCollector c;
  const std::vector<float> a = {1, 2,  -3,  //
                                0, -1, 2};
  const std::vector<float> b = {2, 0, 1};
  c.add("blk.0.ffn_down.weight", a.data(), 2, 3);
  c.add("blk.0.ffn_down.weight", b.data(), 1, 3);
  const Hessians h = c.result();
  const Hessian& m = *h.at("blk.0.ffn_down.weight");
  CHECK(m.tokens == 3);
  CHECK(m.blocks == std::vector<float>{5, 2, -1,  //
                                       2, 5, -8,  //
                                       -1, -8, 14});
  CHECK_THROWS_AS(c.add("blk.0.ffn_down.weight", b.data(), 1, 2), UsageError);
}

TEST_CASE("products reading the same activations share one matrix, counted once", "[gptq]") {
  HessianCollector c;
  const std::vector<float> x = {1, 2, 3, 4}, y = {0, 1, 0, 1};
  for (int pass = 0; pass < 2; ++pass) {
    c.add("blk.0.attn_q.weight", x.data(), 1, 4);
    c.add("blk.0.attn_k.weight", x.data(), 1, 4);
    c.add("blk.0.attn_v.weight", x.data(), 1, 4);
    c.add("blk.0.attn_output.weight", y.data(), 1, 4);
  }
  const Hessians h = c.result();
  CHECK(h.at("blk.0.attn_q.weight") == h.at("blk.0.attn_v.weight"));
  CHECK(h.at("blk.0.attn_q.weight") != h.at("blk.0.attn_output.weight"));
  CHECK(h.at("blk.0.attn_k.weight")->tokens == 2);
  CHECK(h.at("blk.0.attn_k.weight")->blocks[15] == 32);
  CHECK(HessianCollector::collects("blk.0.ffn_up.weight", 1));
  CHECK_FALSE(HessianCollector::collects("blk.0.ffn_up_exps.weight", 8));
  CHECK_FALSE(HessianCollector::collects("output.weight", 1));
}

TEST_CASE("the Hessian sums are the same whatever the thread count", "[gptq]") {
  const uint64_t T = 300, cols = 320;
  std::vector<float> x(T * cols);
  std::mt19937 rng(1);
  std::normal_distribution<float> n(0, 1);
  for (auto& v : x) v = n(rng);
  std::vector<std::vector<float>> got;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    HessianCollector c;
    c.add("blk.0.ffn_down.weight", x.data(), T, cols);
    got.push_back(c.result().at("blk.0.ffn_down.weight")->blocks);
  }
  omp_set_num_threads(omp_get_num_procs());
  CHECK(got[0] == got[1]);
  CHECK(got[0] == got[2]);
  // Symmetric, and one entry by hand.
  double s = 0;
  for (uint64_t t = 0; t < T; ++t) s += double(x[t * cols + 5]) * x[t * cols + 200];
  CHECK(got[0][5 * cols + 200] == got[0][200 * cols + 5]);
  CHECK(got[0][5 * cols + 200] == Approx(s).epsilon(1e-4));
}
