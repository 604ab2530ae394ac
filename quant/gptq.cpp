#include "quant/gptq.h"

#include <cmath>
#include <stdexcept>

#include "quant/codec.h"

namespace owl {
namespace {

// Retries with ten times the dampening when rounding leaves H not positive definite.
constexpr int kDampRetries = 6;

// Lower Cholesky factor of a symmetric positive definite n x n matrix, in place (the upper
// triangle is left as it was). Each entry's sum runs over k in order, whatever the threads.
bool cholesky_lower(std::vector<double>& a, uint64_t n) {
  for (uint64_t j = 0; j < n; ++j) {
    double* rj = a.data() + j * n;
    double d = rj[j];
    for (uint64_t k = 0; k < j; ++k) d -= rj[k] * rj[k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    rj[j] = d;
    const auto rows = static_cast<int64_t>(n);
#pragma omp parallel for schedule(static) if (n - j > 256)
    for (int64_t i = static_cast<int64_t>(j) + 1; i < rows; ++i) {
      double* ri = a.data() + static_cast<uint64_t>(i) * n;
      double s = ri[j];
      for (uint64_t k = 0; k < j; ++k) s -= ri[k] * rj[k];
      ri[j] = s / d;
    }
  }
  return true;
}

}  // namespace

uint64_t hessian_block_width(uint64_t cols) {
  return cols <= kFullHessianMaxCols ? cols : kHessianBlockCols;
}

bool inverse_cholesky_upper(std::vector<double>& a, uint64_t n) {
  // With J the order-reversing permutation and JAJ = MMᵀ (M lower), A = RRᵀ for the upper
  // R = JMJ, so A⁻¹ = (R⁻¹)ᵀR⁻¹ and U = R⁻¹ = J M⁻¹ J.
  std::vector<double> m(n * n);
  for (uint64_t i = 0; i < n; ++i)
    for (uint64_t j = 0; j < n; ++j) m[i * n + j] = a[(n - 1 - i) * n + (n - 1 - j)];
  if (!cholesky_lower(m, n)) return false;
  // Column j of M⁻¹, stored as row j of `inv` so that every sum reads memory in order.
  std::vector<double> inv(n * n, 0.0);
  const auto cols = static_cast<int64_t>(n);
#pragma omp parallel for schedule(dynamic, 16) if (n > 256)
  for (int64_t jj = 0; jj < cols; ++jj) {
    const auto j = static_cast<uint64_t>(jj);
    double* x = inv.data() + j * n;
    x[j] = 1.0 / m[j * n + j];
    for (uint64_t i = j + 1; i < n; ++i) {
      const double* mi = m.data() + i * n;
      double s = 0;
      for (uint64_t k = j; k < i; ++k) s += mi[k] * x[k];
      x[i] = -s / mi[i];
    }
  }
  // U[i][j] = M⁻¹[n-1-i][n-1-j] = inv[n-1-j][n-1-i]; zero below the diagonal.
  for (uint64_t i = 0; i < n; ++i)
    for (uint64_t j = 0; j < n; ++j)
      a[i * n + j] = j < i ? 0.0 : inv[(n - 1 - j) * n + (n - 1 - i)];
  return true;
}

GptqFactor::GptqFactor(const Hessian& h) : cols_(h.cols), block_(h.block) {
  if (!h.block || h.blocks.size() != h.block_count() * h.block * h.block)
    throw std::logic_error("GptqFactor: malformed Hessian");
  u_.assign(h.blocks.size(), 0.0f);
  diag_.assign(cols_, 0.0f);
  for (uint64_t b = 0; b < h.block_count(); ++b) {
    const uint64_t n = h.block_width(b), off = h.block_offset(b);
    // The stored block is `block` wide; the last one uses its top-left n x n corner.
    std::vector<double> base(n * n);
    double mean = 0;
    for (uint64_t i = 0; i < n; ++i) {
      for (uint64_t j = 0; j < n; ++j) base[i * n + j] = h.blocks[off + i * h.block + j];
      // A column no token exercised: any value does, as GPTQ says.
      if (!(base[i * n + i] > 0)) base[i * n + i] = 1;
      mean += base[i * n + i];
    }
    mean /= static_cast<double>(n);
    double damp = kGptqDamp * mean;
    std::vector<double> a;
    for (int attempt = 0;; ++attempt, damp *= 10) {
      if (attempt == kDampRetries)
        throw std::runtime_error("the calibration Hessian is not positive definite");
      a = base;
      for (uint64_t i = 0; i < n; ++i) a[i * n + i] += damp;
      if (inverse_cholesky_upper(a, n)) break;
    }
    for (uint64_t i = 0; i < n; ++i) {
      diag_[b * block_ + i] = static_cast<float>(base[i * n + i] + damp);
      for (uint64_t j = i; j < n; ++j) u_[off + i * block_ + j] = static_cast<float>(a[i * n + j]);
    }
  }
}

bool gptq_supports(ElemType t, uint64_t cols) {
  if (!is_quantized(t) || !can_dequantize(t) || !can_quantize_weighted(t)) return false;
  const uint64_t g = type_info(t).block_elems, block = hessian_block_width(cols);
  return cols % g == 0 && block % g == 0;
}

void GptqFactor::quantize_row(ElemType t, std::span<const float> row, std::span<std::byte> out,
                              std::span<const float> weights) const {
  const TypeInfo& info = type_info(t);
  const uint64_t g = info.block_elems, bytes = info.block_bytes;
  if (row.size() != cols_ || !gptq_supports(t, cols_) || out.size() != cols_ / g * bytes)
    throw std::logic_error("GptqFactor::quantize_row: row or type does not fit");
  const std::span<const float> importance = weights.empty() ? std::span(diag_) : weights;
  std::vector<float> w(row.begin(), row.end()), q(g), err(g);
  for (uint64_t b0 = 0; b0 < cols_; b0 += block_) {
    const uint64_t n = std::min(block_, cols_ - b0);
    const float* u = u_.data() + b0 * block_;  // this diagonal block's U, `block_` wide rows
    for (uint64_t c = 0; c < n; c += g) {
      const uint64_t col = b0 + c;
      const std::span<std::byte> blk = out.subspan(col / g * bytes, bytes);
      quantize_row_weighted(t, std::span<const float>(w).subspan(col, g), blk,
                            importance.subspan(col, g));
      block_codec(t).dequantize(blk.data(), q.data(), g);
      for (uint64_t k = 0; k < g; ++k) err[k] = w[col + k] - q[k];
      // Solves z U_BB = e_B column by column, pushing each z_k into the columns after it.
      for (uint64_t k = 0; k < g; ++k) {
        const float* uk = u + (c + k) * block_;
        const float z = err[k] / uk[c + k];
        for (uint64_t i = k + 1; i < g; ++i) err[i] -= z * uk[c + i];
        float* rest = w.data() + b0;
        for (uint64_t r = c + g; r < n; ++r) rest[r] -= z * uk[r];
      }
    }
  }
}

}  // namespace owl
