#include <catch2/catch.hpp>

#include <omp.h>

#include <limits>
#include <random>

#include "formats/io/error.h"
#include "validate/imatrix_collector.h"

using namespace owl;
using namespace owl::validate;

TEST_CASE("the collector sums each column's squares and counts the tokens", "[imatrix]") {
  ImatrixCollector c(false);
  const std::vector<float> a = {1, 2,  -3,  //
                                0, -1, 2};
  const std::vector<float> b = {2, 0, 1};
  c.add("blk.0.attn_q.weight", a.data(), 2, 3);
  c.add("blk.0.attn_q.weight", b.data(), 1, 3);
  c.add("blk.1.ffn_down.weight", b.data(), 1, 3);
  c.add_dataset("story.txt");
  const Imatrix m = c.result(2);
  REQUIRE(m.entries.size() == 2);
  const ImatrixEntry& q = m.entries.at("blk.0.attn_q.weight");
  CHECK(q.sums == std::vector<float>{5, 5, 14});
  CHECK(q.counts == std::vector<int64_t>{3});
  CHECK(m.entries.at("blk.1.ffn_down.weight").sums == std::vector<float>{4, 0, 1});
  CHECK(m.chunk_count == 1);  // 3 tokens are one whole chunk of 2
  CHECK(m.chunk_size == 2);
  CHECK(m.datasets == std::vector<std::string>{"story.txt"});
}

TEST_CASE("the collector takes blk.* products, and output.weight only when asked", "[imatrix]") {
  CHECK(ImatrixCollector(false).collects("blk.3.ffn_up.weight"));
  CHECK_FALSE(ImatrixCollector(false).collects("output.weight"));
  CHECK(ImatrixCollector(true).collects("output.weight"));
  CHECK_FALSE(ImatrixCollector(true).collects("token_embd.weight"));
}

TEST_CASE("the collector refuses a changed width and non-finite activations", "[imatrix]") {
  ImatrixCollector c(false);
  const std::vector<float> x = {1, 2, 3, 4};
  c.add("blk.0.attn_k.weight", x.data(), 1, 4);
  CHECK_THROWS_AS(c.add("blk.0.attn_k.weight", x.data(), 2, 2), UsageError);
  const std::vector<float> bad = {1, std::numeric_limits<float>::infinity()};
  CHECK_THROWS_AS(c.add("blk.0.attn_v.weight", bad.data(), 1, 2), UsageError);
}

TEST_CASE(
    "a run's statistics add to earlier matrices, GGUF sums as they are and legacy ones "
    "times the chunk size",
    "[imatrix]") {
  Imatrix gguf;
  gguf.entries["blk.0.ffn_up.weight"] = {{1, 2}, {10}};
  gguf.datasets = {"a.txt"};
  Imatrix dat;
  dat.format = ImatrixFormat::Dat;
  dat.entries["blk.0.ffn_up.weight"] = {{0.5f, 1.0f}, {2}};  // mean squares times 2 chunks
  dat.datasets = {"b.txt"};
  Imatrix m;
  accumulate(m, gguf, "a.gguf", 4);
  accumulate(m, dat, "b.dat", 4);
  ImatrixCollector c(false);
  const std::vector<float> x = {1, 1};
  c.add("blk.0.ffn_up.weight", x.data(), 1, 2);
  c.add_dataset("c.txt");
  accumulate(m, c.result(4), "c.txt", 4);
  const ImatrixEntry& e = m.entries.at("blk.0.ffn_up.weight");
  CHECK(e.sums == std::vector<float>{1 + 2 + 1, 2 + 4 + 1});
  CHECK(e.counts == std::vector<int64_t>{10 + 8 + 1});
  CHECK(m.chunk_count == 4);
  CHECK(m.datasets == std::vector<std::string>{"a.txt", "b.txt", "c.txt"});

  Imatrix wide;
  wide.entries["blk.0.ffn_up.weight"] = {{1, 2, 3}, {1}};
  CHECK_THROWS_AS(accumulate(m, wide, "wide.gguf", 4), InputError);
}

TEST_CASE("the collector's sums are the same bits whatever the thread count", "[imatrix]") {
  const uint64_t T = 300, cols = 1000;  // several column blocks, enough to go parallel
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> x(T * cols);
  for (float& v : x) v = d(rng);
  auto run = [&](int threads) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    ImatrixCollector c(false);
    c.add("blk.0.ffn_down.weight", x.data(), T, cols);
    c.add("blk.0.ffn_down.weight", x.data() + cols, T - 1, cols);
    omp_set_num_threads(before);
    return c.result(512).entries.at("blk.0.ffn_down.weight").sums;
  };
  const auto one = run(1);
  CHECK(run(2) == one);
  CHECK(run(3) == one);
  CHECK(run(8) == one);
  double want = 0;
  for (uint64_t t = 0; t < T; ++t) want += static_cast<double>(x[t * cols + 5]) * x[t * cols + 5];
  for (uint64_t t = 1; t < T; ++t) want += static_cast<double>(x[t * cols + 5]) * x[t * cols + 5];
  CHECK(one[5] == Approx(want).epsilon(1e-6));
}
