// The measured recipe's solver (quant/bit_allocation.h): within the budget always, optimal where
// the answer is known by enumeration, deterministic, and refusing budgets below the smallest
// types.
#include <catch2/catch.hpp>

#include <random>

#include "formats/io/error.h"
#include "quant/bit_allocation.h"

using namespace owl;

namespace {

TensorSensitivity tensor(const std::string& name, std::vector<RecipeCandidate> c) {
  return {name, {1, 256}, std::move(c)};
}

// The least error any choice reaches within the budget, by trying every combination.
double best_by_enumeration(const SensitivityTable& t, uint64_t budget) {
  double best = 1e300;
  std::vector<size_t> idx(t.tensors.size(), 0);
  for (;;) {
    uint64_t bytes = 0;
    double err = 0;
    for (size_t i = 0; i < idx.size(); ++i) {
      bytes += t.tensors[i].candidates[idx[i]].bytes;
      err += t.tensors[i].candidates[idx[i]].error;
    }
    if (bytes <= budget) best = std::min(best, err);
    size_t i = 0;
    while (i < idx.size() && ++idx[i] == t.tensors[i].candidates.size()) idx[i++] = 0;
    if (i == idx.size()) return best;
  }
}

SensitivityTable random_table(uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.05, 1.0);
  SensitivityTable t;
  for (int i = 0; i < 5; ++i) {
    std::vector<RecipeCandidate> c;
    uint64_t bytes = 100;
    double err = 10 * u(rng);
    for (int k = 0; k < 4; ++k) {
      c.push_back({ElemType::Q4_K, bytes, err});
      bytes += static_cast<uint64_t>(50 * u(rng)) + 1;
      err *= u(rng);
    }
    // Appended, not "t" + ...: GCC 12 warns wrongly (-Wrestrict) about the operator+ form.
    std::string name = "t";
    name += std::to_string(i);
    t.tensors.push_back(tensor(name, c));
  }
  return t;
}

}  // namespace

TEST_CASE("bit allocation: the smallest types at the smallest budget, the best at a large one") {
  SensitivityTable t;
  t.tensors.push_back(
      tensor("a", {{ElemType::Q2_K, 10, 9}, {ElemType::Q4_K, 20, 4}, {ElemType::Q8_0, 40, 1}}));
  t.tensors.push_back(
      tensor("b", {{ElemType::Q2_K, 10, 3}, {ElemType::Q4_K, 20, 2}, {ElemType::Q8_0, 40, 1.5}}));
  const BitAllocation low = allocate_bits(t, 20, 1);
  CHECK(low.choice == std::vector<size_t>{0, 0});
  CHECK(low.bytes == 20);
  CHECK(low.error == 12);
  const BitAllocation high = allocate_bits(t, 1000, 1);
  CHECK(high.choice == std::vector<size_t>{2, 2});
  // 30 bytes: one upgrade to Q4_K; a's saves 5, b's 1.
  const BitAllocation mid = allocate_bits(t, 30, 1);
  CHECK(mid.choice == std::vector<size_t>{1, 0});
  CHECK(mid.error == 7);
  CHECK_THROWS_AS(allocate_bits(t, 19, 1), UsageError);
}

TEST_CASE("bit allocation: sizes count padded to the alignment") {
  SensitivityTable t;
  t.tensors.push_back(tensor("a", {{ElemType::Q2_K, 10, 9}, {ElemType::Q4_K, 20, 4}}));
  // Padded to 32 both candidates take 32 bytes: the better one is free.
  const BitAllocation a = allocate_bits(t, 32, 32);
  CHECK(a.choice == std::vector<size_t>{1});
  CHECK(a.bytes == 32);
}

TEST_CASE("bit allocation: within budget, and near the enumerated optimum, on random tables") {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    const SensitivityTable t = random_table(seed);
    uint64_t smallest = 0, largest = 0;
    for (const auto& s : t.tensors) {
      smallest += s.candidates.front().bytes;
      largest += s.candidates.back().bytes;
    }
    for (uint64_t budget = smallest; budget <= largest; budget += 37) {
      const BitAllocation a = allocate_bits(t, budget, 1);
      CHECK(a.bytes <= budget);
      const double best = best_by_enumeration(t, budget);
      CHECK(a.error >= best - 1e-12);
      // Greedy on the hulls plus the fill: within a small margin of the optimum here.
      CHECK(a.error <= best * 1.5 + 1e-12);
      CHECK(allocate_bits(t, budget, 1).choice == a.choice);
    }
  }
}
