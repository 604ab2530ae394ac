// Error-compensated rounding (GPTQ / LDLQ) into ggml's block types: a row is quantized one
// codec block at a time, left to right, and each block's rounding error is fed forward into the
// columns not yet quantized, so that the error of the row's product with the calibration inputs
// (not of the weights themselves) is what the rounding keeps small. The bytes are ordinary
// blocks of the type: ggml's dequantizers decode them unchanged.
//
// With H = XᵀX over calibration inputs X, the error of a quantized row ŵ is (w - ŵ) H (w - ŵ)ᵀ.
// After block B is fixed, the best change to the remaining columns R is
// w_R -= (e_B U_BB⁻¹) U_BR, where e_B = w_B - ŵ_B and U is the upper Cholesky factor of H⁻¹
// (H⁻¹ = UᵀU): the block form of GPTQ's column-by-column update.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "converters/types.h"

namespace owl {

// The second moment of a matrix's inputs, XᵀX summed over calibration tokens, kept as square
// blocks down the diagonal: one block of all columns for a matrix up to kFullHessianMaxCols wide,
// blocks of kHessianBlockCols beyond that (the correlations between blocks are dropped, which
// bounds memory at cols x kHessianBlockCols floats).
struct Hessian {
  uint64_t cols = 0;
  uint64_t block = 0;         // the diagonal blocks' width (the last may be narrower)
  uint64_t tokens = 0;        // how many input rows went into the sums
  std::vector<float> blocks;  // each block row-major, block after block

  uint64_t block_width(uint64_t b) const { return std::min(block, cols - b * block); }
  uint64_t block_count() const { return block ? (cols + block - 1) / block : 0; }
  // The offset of diagonal block b in `blocks`.
  uint64_t block_offset(uint64_t b) const { return b * block * block; }
};

inline constexpr uint64_t kFullHessianMaxCols = 8192;
inline constexpr uint64_t kHessianBlockCols = 4096;
// GPTQ's dampening: H + kGptqDamp * mean(diag H) * I, so that H is safely invertible when the
// calibration text leaves some directions unseen.
inline constexpr double kGptqDamp = 0.01;

// The diagonal block width for a matrix `cols` wide.
uint64_t hessian_block_width(uint64_t cols);

// By weight name.
using Hessians = std::map<std::string, std::shared_ptr<const Hessian>, std::less<>>;

// What a row's quantization needs from H, computed once per tensor: per diagonal block, the
// upper Cholesky factor U of the dampened H⁻¹ (row-major) and diag(H) as importance for the
// codec's scale search.
class GptqFactor {
 public:
  explicit GptqFactor(const Hessian& h);
  uint64_t cols() const { return cols_; }
  std::span<const float> importance() const { return diag_; }

  // Quantizes one row of cols() values into type `t` (a block type whose block size divides
  // the diagonal blocks' width). `weights`, when not empty, replaces diag(H) as the importance
  // the codec's scale search uses (an imatrix's). Deterministic: the row is processed serially.
  void quantize_row(ElemType t, std::span<const float> row, std::span<std::byte> out,
                    std::span<const float> weights) const;

 private:
  uint64_t cols_, block_;
  std::vector<float> u_;  // per diagonal block, U row-major (upper triangle used)
  std::vector<float> diag_;
};

// Whether `t` can be quantized with error feedback for a matrix `cols` wide: a block type owl
// quantizes and dequantizes, whose blocks tile the Hessian's diagonal blocks.
bool gptq_supports(ElemType t, uint64_t cols);

// The upper Cholesky factor U of A⁻¹ (A⁻¹ = UᵀU) for a symmetric positive definite n x n A,
// row-major, in place. Returns false when A is not positive definite.
bool inverse_cholesky_upper(std::vector<double>& a, uint64_t n);

}  // namespace owl
