// The grid i-quant quantizers through owl's own dequantizers: errors in each type's range, the
// importance weights honoured, the search tables consistent with the grids, and the same bytes
// every time and from every thread. tests/interop/test_iquant_codecs.py holds the bytes to
// ggml's.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "quant/codec.h"
#include "quant/iq_grid_search.h"
#include "quant/iq_grid_search_x86.h"
#include "quant/iq_grids.h"
#include "quant/iquants.h"
#include "quant/kquants_search_x86.h"

using namespace owl;

namespace {

constexpr ElemType kTypes[] = {ElemType::IQ2_XXS, ElemType::IQ2_XS, ElemType::IQ2_S,
                               ElemType::IQ3_XXS, ElemType::IQ3_S,  ElemType::IQ1_S,
                               ElemType::IQ1_M};

std::vector<float> normal_row(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> x(n);
  for (float& v : x) v = d(rng);
  return x;
}

std::vector<std::byte> quantize(ElemType t, const std::vector<float>& x,
                                const std::vector<float>& weights) {
  const TypeInfo& info = type_info(t);
  std::vector<std::byte> out(x.size() / info.block_elems * info.block_bytes);
  quantize_row_weighted(t, x, out, weights);
  return out;
}

std::vector<float> round_trip(ElemType t, const std::vector<float>& x,
                              const std::vector<float>& weights) {
  std::vector<float> y(x.size());
  dequantize_row(t, quantize(t, x, weights), y);
  return y;
}

// sqrt(sum w (y - x)^2 / sum w x^2).
double relative_error(const std::vector<float>& x, const std::vector<float>& y,
                      const std::vector<float>& w) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double wi = w[i % w.size()];
    err += wi * (y[i] - x[i]) * (y[i] - x[i]);
    norm += wi * x[i] * x[i];
  }
  return std::sqrt(err / norm);
}

// The relative error each type reaches on normal rows under uniform importance (`weighted`) or
// ggml's x^2 weights without a matrix, as measured, with a tenth to spare: the more bits, the
// less error.
double error_bound(ElemType t, bool weighted) {
  switch (t) {
    case ElemType::IQ1_S:
      return 0.53;
    case ElemType::IQ1_M:
      return weighted ? 0.50 : 0.62;
    case ElemType::IQ2_XXS:
      return 0.38;
    case ElemType::IQ2_XS:
      return 0.33;
    case ElemType::IQ2_S:
      return weighted ? 0.28 : 0.29;
    case ElemType::IQ3_XXS:
      return weighted ? 0.20 : 0.235;
    default:  // IQ3_S
      return weighted ? 0.152 : 0.18;
  }
}

}  // namespace

TEST_CASE("grid i-quants round-trip with each type's error", "[quant][iq]") {
  const size_t n = 4096;
  const std::vector<float> x = normal_row(4 * n, 1);
  const std::vector<float> ones(n, 1.0f);
  for (ElemType t : kTypes) {
    CAPTURE(type_name(t));
    const double err = relative_error(x, round_trip(t, x, ones), ones);
    CHECK(err < error_bound(t, true));
    CHECK(err > 0.01);  // these are lossy: a zero error would mean the test compares nothing
  }
}

TEST_CASE("grid i-quants fit the columns the importance matrix weighs most", "[quant][iq]") {
  const size_t n = 2048;
  const std::vector<float> x = normal_row(8 * n, 2);
  const std::vector<float> ones(n, 1.0f);
  std::vector<float> favour_even(n, 0.05f);
  for (size_t i = 0; i < n; i += 2) favour_even[i] = 1.0f;
  std::vector<float> even_only(n, 0.0f);
  for (size_t i = 0; i < n; i += 2) even_only[i] = 1.0f;
  for (ElemType t : kTypes) {
    CAPTURE(type_name(t));
    const double plain = relative_error(x, round_trip(t, x, ones), even_only);
    const double favoured = relative_error(x, round_trip(t, x, favour_even), even_only);
    CHECK(favoured < 0.92 * plain);
  }
}

TEST_CASE("grid i-quants without an importance matrix where ggml has such a path", "[quant][iq]") {
  CHECK_FALSE(can_quantize(ElemType::IQ2_XXS));
  CHECK_FALSE(can_quantize(ElemType::IQ2_XS));
  CHECK_FALSE(can_quantize(ElemType::IQ1_S));
  for (ElemType t : kTypes) CHECK(can_quantize_weighted(t));
  const std::vector<float> x = normal_row(2048, 3);
  for (ElemType t : {ElemType::IQ2_S, ElemType::IQ3_XXS, ElemType::IQ3_S, ElemType::IQ1_M}) {
    CAPTURE(type_name(t));
    const TypeInfo& info = type_info(t);
    std::vector<std::byte> q(x.size() / info.block_elems * info.block_bytes);
    quantize_row(t, x, q);
    std::vector<float> y(x.size());
    dequantize_row(t, q, y);
    CHECK(relative_error(x, y, std::vector<float>{1.0f}) < error_bound(t, false));
  }
}

TEST_CASE("the search tables invert the grids and list the nearest points", "[quant][iq]") {
  using iq::GridId;
  for (GridId id :
       {GridId::IQ2XXS, GridId::IQ2XS, GridId::IQ2S, GridId::IQ3XXS, GridId::IQ3S, GridId::IQ1S}) {
    CAPTURE(static_cast<int>(id));
    const iq::SearchGrid& g = iq::search_grid(id);
    const auto codes = iq::grid_codes(id);
    REQUIRE(g.size() == static_cast<int>(codes.size()));
    CHECK(g.index_of(0) == 0);  // the quantizers' all-lowest-levels fallback is a point
    const int dims = g.dims();
    for (int i = 0; i < g.size(); ++i) {
      int8_t L[8];
      for (int k = 0; k < dims; ++k) {
        L[k] = static_cast<int8_t>((g.point(i)[k] - 1) / 2);
        REQUIRE(L[k] == ((codes[i] >> (g.bits() * k)) & ((1 << g.bits()) - 1)));
      }
      REQUIRE(g.code(L) == codes[i]);
      REQUIRE(g.index_of(codes[i]) == i);
      REQUIRE(g.neighbours(codes[i]).empty());
    }

    // Every code of in-range levels off the grid has neighbours: the points at its smallest
    // squared distances, nearest first, ties by index, the nearest ones all there.
    int off_grid = 0;
    const uint32_t code_count = 1u << (g.bits() * dims);
    for (uint32_t u = 0; u < code_count; ++u) {
      bool in_range = true;
      int pos[8];
      for (int k = 0; k < dims; ++k) {
        const int l = static_cast<int>((u >> (g.bits() * k)) & ((1u << g.bits()) - 1));
        in_range = in_range && l < g.levels();
        pos[k] = 2 * l + 1;
      }
      if (!in_range) {
        REQUIRE(g.index_of(u) < 0);
        continue;
      }
      if (g.index_of(u) >= 0) continue;
      ++off_grid;
      const auto distance = [&](int j) {
        int d = 0;
        for (int k = 0; k < dims; ++k) d += (g.point(j)[k] - pos[k]) * (g.point(j)[k] - pos[k]);
        return d;
      };
      const auto near = g.neighbours(u);
      REQUIRE(!near.empty());
      int nearest = distance(0);
      for (int j = 1; j < g.size(); ++j) nearest = std::min(nearest, distance(j));
      int at_nearest = 0;
      for (int j = 0; j < g.size(); ++j) at_nearest += distance(j) == nearest;
      REQUIRE(distance(near[0]) == nearest);
      REQUIRE(static_cast<int>(near.size()) >= at_nearest);
      for (size_t j = 1; j < near.size(); ++j) {
        const int a = distance(near[j - 1]), b = distance(near[j]);
        REQUIRE((a < b || (a == b && near[j - 1] < near[j])));
      }
    }
    CHECK(off_grid > 0);
  }
}

TEST_CASE("grid i-quants give the same bytes every time and from every thread", "[quant][iq]") {
  const size_t n = 1024;
  const std::vector<float> x = normal_row(4 * n, 4);
  std::vector<float> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = 0.5f + static_cast<float>(i % 7);
  for (ElemType t : kTypes) {
    CAPTURE(type_name(t));
    const std::vector<std::byte> first = quantize(t, x, w);
    std::vector<std::vector<std::byte>> from_threads(4);
    std::vector<std::thread> threads;
    for (auto& out : from_threads) threads.emplace_back([&] { out = quantize(t, x, w); });
    for (auto& th : threads) th.join();
    for (const auto& out : from_threads) CHECK(out == first);
    // Row by row gives the bytes of all rows at once.
    const size_t row_bytes = first.size() / 4;
    for (size_t r = 0; r < 4; ++r) {
      const std::vector<float> row(x.begin() + r * n, x.begin() + (r + 1) * n);
      const auto one = quantize(t, row, w);
      CHECK(std::equal(one.begin(), one.end(), first.begin() + r * row_bytes));
    }
  }
}

TEST_CASE("grid i-quants take zeros, zero weights and huge values without failing", "[quant][iq]") {
  const size_t n = 512;
  const std::vector<float> zeros(n, 0.0f);
  std::vector<float> huge = normal_row(n, 5);
  for (float& v : huge) v *= 1e30f;
  huge[7] = 3e38f;
  const std::vector<float> x = normal_row(n, 6);
  const std::vector<float> ones(n, 1.0f), no_weight(n, 0.0f);
  for (ElemType t : kTypes) {
    CAPTURE(type_name(t));
    for (float v : round_trip(t, zeros, ones)) REQUIRE(v == 0.0f);
    CHECK_NOTHROW(round_trip(t, huge, ones));
    CHECK_NOTHROW(round_trip(t, x, no_weight));
  }
}

TEST_CASE("the AVX2 neighbour search chooses as the scalar one", "[quant][iq]") {
  if (!kq::x86::has_avx2()) {
    WARN("no AVX2 on this machine: nothing to compare");
    return;
  }
  using iq::GridId;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  const float shifted[3] = {-0.875f, 0.125f, 1.125f};
  for (GridId id :
       {GridId::IQ2XXS, GridId::IQ2XS, GridId::IQ2S, GridId::IQ3XXS, GridId::IQ3S, GridId::IQ1S}) {
    CAPTURE(static_cast<int>(id));
    const iq::SearchGrid& g = iq::search_grid(id);
    const uint32_t code_count = 1u << (g.bits() * g.dims());
    int compared = 0;
    for (uint32_t u = 0; u < code_count; ++u) {
      const auto near = g.neighbours(u);
      if (near.empty()) continue;
      float x[8], w[8];
      const int pattern = compared % 6;
      for (int i = 0; i < 8; ++i) {
        x[i] = pattern == 1 ? 0.5f * static_cast<float>(i % 3) : 6 * unit(rng) - 1;
        // Zero weights tie every candidate; the first must win in both.
        w[i] = pattern == 2 ? 0.f : unit(rng);
      }
      // Distances that overflow: for some candidates (the term of a huge value is near
      // FLT_MAX, so whether a sum overflows depends on its other terms), or for all, where
      // both keep the first candidate.
      if (pattern == 4) x[0] = 1.5e19f;
      if (pattern == 5) std::fill(x, x + 8, 1e30f);
      const float scale = pattern == 3 ? 1.0f : 0.2f + unit(rng);
      const float* values = id == GridId::IQ1S && compared % 2 ? shifted : nullptr;
      int8_t scalar_L[8], avx2_L[8];
      const int scalar = iq::nearest_candidate(g, near, x, w, scale, values, scalar_L);
      const int avx2 = iq::x86::nearest_neighbour_avx2(g, u, x, w, scale, values, avx2_L);
      REQUIRE(avx2 == scalar);
      REQUIRE(std::equal(scalar_L, scalar_L + g.dims(), avx2_L));
      ++compared;
    }
    CHECK(compared > 1000);
  }
}

TEST_CASE("the grid i-quant quantizers give their scalar references' bytes", "[quant][iq]") {
  if (!kq::x86::has_avx2()) {
    WARN("no AVX2 on this machine: nothing to compare");
    return;
  }
  // Rows of normal values at several scales, with outliers, a zero group and exact ties;
  // importances that vary widely, with zeros.
  const size_t n = 2048;
  std::vector<float> x = normal_row(4 * n, 8);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] *= i < n ? 0.02f : i < 2 * n ? 1.0f : 300.0f;
    if (i % 97 == 5) x[i] *= 40;
    if (i % 256 < 16 && i / 256 % 3 == 0) x[i] = 0;
    if (i % 64 == 40) x[i] = x[i - 1];
  }
  std::mt19937 rng(9);
  std::lognormal_distribution<float> spread(0, 2);
  std::vector<float> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = i % 11 == 3 ? 0.f : spread(rng);
  using Weighted = void (*)(const float*, std::byte*, size_t, const float*);
  struct Pair {
    Weighted fast, reference;
    size_t block_bytes;
  };
  for (const Pair& p :
       {Pair{quantize_iq2_xxs_weighted, scalar::quantize_iq2_xxs_weighted, kIQ2_XXSBlockBytes},
        Pair{quantize_iq2_xs_weighted, scalar::quantize_iq2_xs_weighted, kIQ2_XSBlockBytes},
        Pair{quantize_iq2_s_weighted, scalar::quantize_iq2_s_weighted, kIQ2_SBlockBytes},
        Pair{quantize_iq3_xxs_weighted, scalar::quantize_iq3_xxs_weighted, kIQ3_XXSBlockBytes},
        Pair{quantize_iq3_s_weighted, scalar::quantize_iq3_s_weighted, kIQ3_SBlockBytes},
        Pair{quantize_iq1_s_weighted, scalar::quantize_iq1_s_weighted, kIQ1_SBlockBytes},
        Pair{quantize_iq1_m_weighted, scalar::quantize_iq1_m_weighted, kIQ1_MBlockBytes}}) {
    CAPTURE(p.block_bytes);
    std::vector<std::byte> fast(x.size() / 256 * p.block_bytes), reference(fast.size());
    for (size_t r = 0; r < 4; ++r) {
      p.fast(x.data() + r * n, fast.data() + r * n / 256 * p.block_bytes, n, w.data());
      p.reference(x.data() + r * n, reference.data() + r * n / 256 * p.block_bytes, n, w.data());
    }
    CHECK(fast == reference);
  }
  using Plain = void (*)(const float*, std::byte*, size_t);
  struct PlainPair {
    Plain fast, reference;
    size_t block_bytes;
  };
  for (const PlainPair& p :
       {PlainPair{quantize_iq2_s, scalar::quantize_iq2_s, kIQ2_SBlockBytes},
        PlainPair{quantize_iq3_xxs, scalar::quantize_iq3_xxs, kIQ3_XXSBlockBytes},
        PlainPair{quantize_iq3_s, scalar::quantize_iq3_s, kIQ3_SBlockBytes},
        PlainPair{quantize_iq1_m, scalar::quantize_iq1_m, kIQ1_MBlockBytes}}) {
    CAPTURE(p.block_bytes);
    std::vector<std::byte> fast(x.size() / 256 * p.block_bytes), reference(fast.size());
    p.fast(x.data(), fast.data(), x.size());
    p.reference(x.data(), reference.data(), x.size());
    CHECK(fast == reference);
  }
}
