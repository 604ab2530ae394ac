// The codebooks as the grid i-quant quantizers search them. A quantizer rounds each group of 8
// (IQ1, IQ2) or 4 (IQ3) values to levels, packs the levels into a code and looks the code up:
// either it is a point of the grid, or the point must come from a short list of grid points
// near it. ggml builds the same tables in `iq2xs_init_impl` and `iq3xs_init_impl`; the lists
// hold the same points in the same order, which the quantizers' first-best choices depend on.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "quant/iq_grids.h"

namespace owl::iq {

class SearchGrid {
 public:
  explicit SearchGrid(GridId id);

  int dims() const { return dims_; }
  // Levels per coordinate the quantizers round to: 3 on the 8-coordinate grids, 8 on IQ3's.
  int levels() const { return levels_; }
  int bits() const { return bits_; }
  int size() const { return static_cast<int>(points_.size()) / dims_; }

  // Point i's coordinates as the odd numbers 2 * level + 1.
  const int8_t* point(int i) const { return &points_[static_cast<size_t>(i) * dims_]; }

  // The packed code of `dims()` levels, each in [0, levels()).
  uint32_t code(const int8_t* L) const {
    uint32_t u = 0;
    for (int k = 0; k < dims_; ++k) u |= static_cast<uint32_t>(L[k]) << (bits_ * k);
    return u;
  }

  // The index of the point with these levels, or -1 when `code` is off the grid (or is not a
  // code of levels in range).
  int index_of(uint32_t code) const { return code < index_.size() ? index_[code] : -1; }

  // For a code off the grid: the grid points at the few smallest squared distances from it
  // (two, or one for IQ2_S, three for IQ1 and IQ3_S), nearest first, ties by index. Empty for a
  // code on the grid or out of range.
  std::span<const uint16_t> neighbours(uint32_t code) const {
    if (code >= count_.size()) return {};
    return {neighbour_ids_.data() + first_[code], count_[code]};
  }

  // No code has more neighbours than this (the constructor checks).
  static constexpr size_t kMaxNeighbours = 512;

  // The neighbours' levels coordinate by coordinate, for searching them eight at a time: level
  // i of neighbour j is at [i * stride + j], with the stride the list's length rounded up to a
  // multiple of 8. The padding repeats the first neighbour, which a first-best search can never
  // prefer to the original, so the padded lanes need no masking.
  const int8_t* neighbour_levels(uint32_t code, size_t& stride) const {
    stride = (count_[code] + 7u) / 8u * 8u;
    return &neighbour_levels_[first_level_[code]];
  }

 private:
  int dims_;
  int levels_;
  int bits_;
  std::vector<int8_t> points_;
  std::vector<int16_t> index_;   // by code
  std::vector<uint32_t> first_;  // by code: where its neighbour list starts
  std::vector<uint16_t> count_;  // by code: its length
  std::vector<uint16_t> neighbour_ids_;
  std::vector<uint32_t> first_level_;  // by code
  std::vector<int8_t> neighbour_levels_;
};

// Built on first use, once, whichever thread asks first.
const SearchGrid& search_grid(GridId id);

// The candidate point nearest to `x` at `scale` in weighted squared distance
// sum(w (scale q - x)^2), the first on ties (ggml's `iq2_find_best_neighbour` and
// `iq3_find_best_neighbour`, summed in their order), q the point's coordinate 2 l + 1 or, with
// `values`, values[l] (ggml's `iq1_find_best_neighbour2`). Writes its levels to `L` and returns
// its index. Where every distance overflows, ggml aborts (or reads past its arrays); owl takes
// the first candidate.
int nearest_candidate(const SearchGrid& g, std::span<const uint16_t> candidates, const float* x,
                      const float* w, float scale, const float* values, int8_t* L);

// nearest_candidate over the neighbours of an off-grid `code`; with `avx2` (the processor has
// it: kq::x86::has_avx2) eight at a time, with the same result.
int nearest_neighbour(bool avx2, const SearchGrid& g, uint32_t code, const float* x, const float* w,
                      float scale, const float* values, int8_t* L);

// The levels of `L` snapped to the grid: the point itself when they are one, else the nearest
// neighbour at `scale` (whose levels replace L's). Returns the point's index and tells whether
// the levels were on the grid already.
int snap_to_grid(bool avx2, const SearchGrid& g, const float* x, const float* w, float scale,
                 int8_t* L, bool& was_on_grid);

}  // namespace owl::iq
