#include "validate/hessian_collector.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>

#include "formats/io/error.h"

namespace owl::validate {
namespace {

// Square tiles of the sums one thread owns: 64 x 64 floats stay in L1 while every token's outer
// product is added to them.
constexpr uint64_t kTile = 64;

// h (the diagonal block at `c0`, `block` wide, n x n used) += Xᵀ X over the block's columns. Each
// tile sums over the tokens in order, in f32 within one call; tiles on or above the diagonal are
// computed and mirrored.
void add_block(float* h, uint64_t block, uint64_t n, const float* x, uint64_t tokens, uint64_t cols,
               uint64_t c0) {
  const uint64_t tiles = (n + kTile - 1) / kTile;
  const auto pairs = static_cast<int64_t>(tiles * tiles);
#pragma omp parallel for schedule(dynamic, 1) if (tokens * n * n >= (1u << 20))
  for (int64_t p = 0; p < pairs; ++p) {
    const uint64_t ti = static_cast<uint64_t>(p) / tiles, tj = static_cast<uint64_t>(p) % tiles;
    if (tj < ti) continue;
    const uint64_t i0 = ti * kTile, j0 = tj * kTile;
    const uint64_t ni = std::min(kTile, n - i0), nj = std::min(kTile, n - j0);
    float acc[kTile][kTile] = {};
    for (uint64_t t = 0; t < tokens; ++t) {
      const float* xr = x + t * cols + c0;
      for (uint64_t i = 0; i < ni; ++i) {
        const float a = xr[i0 + i];
        for (uint64_t j = 0; j < nj; ++j) acc[i][j] += a * xr[j0 + j];
      }
    }
    for (uint64_t i = 0; i < ni; ++i)
      for (uint64_t j = 0; j < nj; ++j) {
        h[(i0 + i) * block + j0 + j] += acc[i][j];
        if (ti != tj) h[(j0 + j) * block + i0 + i] += acc[i][j];
      }
  }
}

}  // namespace

bool HessianCollector::collects(const std::string& weight, uint64_t experts) {
  return experts == 1 && weight.starts_with("blk.");
}

void HessianCollector::add(const std::string& weight, const float* x, uint64_t tokens,
                           uint64_t cols) {
  // The product just before read the same activations: share its matrix, adding nothing.
  const uint64_t fingerprint = XXH3_64bits(x, tokens * cols * sizeof(float));
  const bool same_input = last_.matrix < matrices_.size() && last_.x == x &&
                          last_.tokens == tokens && last_.fingerprint == fingerprint &&
                          matrices_[last_.matrix]->cols == cols;
  auto found = index_.find(weight);
  if (found == index_.end() && same_input) {
    index_[weight] = last_.matrix;
    return;
  }
  if (found == index_.end()) {
    auto h = std::make_shared<Hessian>();
    h->cols = cols;
    h->block = hessian_block_width(cols);
    h->blocks.assign(h->block_count() * h->block * h->block, 0.0f);
    matrices_.push_back(std::move(h));
    found = index_.emplace(weight, matrices_.size() - 1).first;
  }
  if (same_input && found->second == last_.matrix) return;
  Hessian& h = *matrices_[found->second];
  if (h.cols != cols)
    throw UsageError("calibration: '" + weight + "' takes " + std::to_string(cols) +
                     " columns, earlier " + std::to_string(h.cols));
  last_ = {found->second, x, tokens, fingerprint};
  for (uint64_t b = 0; b < h.block_count(); ++b)
    add_block(h.blocks.data() + h.block_offset(b), h.block, h.block_width(b), x, tokens, cols,
              b * h.block);
  for (uint64_t b = 0; b < h.block_count(); ++b)
    for (uint64_t i = 0; i < h.block_width(b); ++i)
      if (!std::isfinite(h.blocks[h.block_offset(b) + i * h.block + i]))
        throw UsageError("non-finite activations at the input of '" + weight +
                         "': the model's weights or the text overflow f32");
  h.tokens += tokens;
}

Hessians HessianCollector::result() const {
  Hessians out;
  for (const auto& [name, i] : index_) out[name] = matrices_[i];
  return out;
}

}  // namespace owl::validate
