#include "quant/iq_grid_search.h"

#include "quant/iq_grid_search_x86.h"

#include <algorithm>
#include <cfloat>
#include <stdexcept>
#include <utility>

namespace owl::iq {

namespace {

struct Shape {
  int dims;
  int bits;
  int levels;
  int distances;  // how many of the smallest distinct distances the neighbour lists span
};

Shape shape_of(GridId id) {
  switch (id) {
    case GridId::IQ2XXS:
    case GridId::IQ2XS:
      return {8, 2, 3, 2};
    case GridId::IQ2S:
      return {8, 2, 3, 1};
    case GridId::IQ1S:
      return {8, 2, 3, 3};
    case GridId::IQ3XXS:
      return {4, 3, 8, 2};
    case GridId::IQ3S:
      return {4, 3, 8, 3};
  }
  throw std::logic_error("unknown i-quant grid");
}

bool levels_in_range(uint32_t code, const Shape& s) {
  for (int k = 0; k < s.dims; ++k)
    if (static_cast<int>((code >> (s.bits * k)) & ((1u << s.bits) - 1)) >= s.levels) return false;
  return true;
}

// The squared distance of each of `count` points from `pos`.
template <int Dims>
void squared_distances(const int8_t* points, size_t count, const int8_t* pos, int* d2) {
  for (size_t j = 0; j < count; ++j) {
    int sum = 0;
    for (int k = 0; k < Dims; ++k) {
      const int diff = points[j * Dims + k] - pos[k];
      sum += diff * diff;
    }
    d2[j] = sum;
  }
}

}  // namespace

SearchGrid::SearchGrid(GridId id) {
  const Shape s = shape_of(id);
  dims_ = s.dims;
  bits_ = s.bits;
  levels_ = s.levels;
  const std::span<const uint16_t> codes = grid_codes(id);
  const uint32_t mask = (1u << bits_) - 1;

  points_.resize(codes.size() * dims_);
  const size_t code_count = size_t{1} << (bits_ * dims_);
  index_.assign(code_count, -1);
  for (size_t i = 0; i < codes.size(); ++i) {
    for (int k = 0; k < dims_; ++k)
      points_[i * dims_ + k] = static_cast<int8_t>(2 * ((codes[i] >> (bits_ * k)) & mask) + 1);
    index_[codes[i]] = static_cast<int16_t>(i);
  }

  // Each code of in-range levels that is not a point gets the points at its `distances`
  // smallest squared distances (in odd-number coordinates), ordered by distance, then index.
  first_.assign(code_count, 0);
  count_.assign(code_count, 0);
  constexpr int kMaxDistance = 8 * 14 * 14;  // 8 coordinates at most, odd numbers 1..15
  std::vector<int> d2(codes.size());
  std::vector<std::pair<int, uint16_t>> near;
  for (uint32_t u = 0; u < code_count; ++u) {
    if (index_[u] >= 0 || !levels_in_range(u, s)) continue;
    int8_t pos[8];
    for (int k = 0; k < dims_; ++k)
      pos[k] = static_cast<int8_t>(2 * ((u >> (bits_ * k)) & mask) + 1);
    if (dims_ == 8) {
      squared_distances<8>(points_.data(), codes.size(), pos, d2.data());
    } else {
      squared_distances<4>(points_.data(), codes.size(), pos, d2.data());
    }
    bool seen[kMaxDistance + 1] = {};
    for (const int d : d2) seen[d] = true;
    int limit = 0;
    for (int d = 0, distinct = 0; d <= kMaxDistance && distinct < s.distances; ++d) {
      if (seen[d]) {
        limit = d;
        ++distinct;
      }
    }
    near.clear();
    for (size_t j = 0; j < codes.size(); ++j)
      if (d2[j] <= limit) near.emplace_back(d2[j], static_cast<uint16_t>(j));
    std::sort(near.begin(), near.end());
    if (near.size() > kMaxNeighbours) throw std::logic_error("i-quant neighbour list too long");
    first_[u] = static_cast<uint32_t>(neighbour_ids_.size());
    count_[u] = static_cast<uint16_t>(near.size());
    for (const auto& candidate : near) neighbour_ids_.push_back(candidate.second);
  }

  first_level_.assign(code_count, 0);
  for (uint32_t u = 0; u < code_count; ++u) {
    if (count_[u] == 0) continue;
    first_level_[u] = static_cast<uint32_t>(neighbour_levels_.size());
    const std::span<const uint16_t> near = neighbours(u);
    const size_t stride = (near.size() + 7) / 8 * 8;
    for (int k = 0; k < dims_; ++k)
      for (size_t j = 0; j < stride; ++j)
        neighbour_levels_.push_back(
            static_cast<int8_t>((point(near[j < near.size() ? j : 0])[k] - 1) / 2));
  }
}

namespace {

template <GridId Id>
const SearchGrid& built_once() {
  static const SearchGrid grid(Id);
  return grid;
}

}  // namespace

const SearchGrid& search_grid(GridId id) {
  switch (id) {
    case GridId::IQ2XXS:
      return built_once<GridId::IQ2XXS>();
    case GridId::IQ2XS:
      return built_once<GridId::IQ2XS>();
    case GridId::IQ2S:
      return built_once<GridId::IQ2S>();
    case GridId::IQ3XXS:
      return built_once<GridId::IQ3XXS>();
    case GridId::IQ3S:
      return built_once<GridId::IQ3S>();
    case GridId::IQ1S:
      return built_once<GridId::IQ1S>();
  }
  throw std::logic_error("unknown i-quant grid");
}

int nearest_candidate(const SearchGrid& g, std::span<const uint16_t> candidates, const float* x,
                      const float* w, float scale, const float* values, int8_t* L) {
  const int dims = g.dims();
  int best = candidates.empty() ? 0 : candidates[0];
  float best_d2 = FLT_MAX;
  for (const uint16_t c : candidates) {
    const int8_t* p = g.point(c);
    float d2 = 0;
    for (int i = 0; i < dims; ++i) {
      const float q = values ? values[(p[i] - 1) / 2] : static_cast<float>(p[i]);
      const float diff = scale * q - x[i];
      d2 += w[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = c;
    }
  }
  const int8_t* p = g.point(best);
  for (int i = 0; i < dims; ++i) L[i] = static_cast<int8_t>((p[i] - 1) / 2);
  return best;
}

int snap_to_grid(bool avx2, const SearchGrid& g, const float* x, const float* w, float scale,
                 int8_t* L, bool& was_on_grid) {
  const uint32_t u = g.code(L);
  const int index = g.index_of(u);
  was_on_grid = index >= 0;
  if (was_on_grid) return index;
  return nearest_neighbour(avx2, g, u, x, w, scale, nullptr, L);
}

int nearest_neighbour(bool avx2, const SearchGrid& g, uint32_t code, const float* x, const float* w,
                      float scale, const float* values, int8_t* L) {
  if (avx2) return x86::nearest_neighbour_avx2(g, code, x, w, scale, values, L);
  return nearest_candidate(g, g.neighbours(code), x, w, scale, values, L);
}

}  // namespace owl::iq
