// Error-compensated rounding (quant/gptq.h) on inputs whose answer is known: the factor of H⁻¹,
// an H that decouples the columns (plain rounding is then optimal, byte for byte), an H that
// only sees the columns' sum, and random correlated inputs where feedback must not lose to
// plain rounding in the error it minimises.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "quant/codec.h"
#include "quant/gptq.h"

using namespace owl;

namespace {

// XᵀX of `tokens` rows of `cols` correlated activations: a shared component plus noise, with
// column scales spread over two orders of magnitude (as real activations have).
Hessian correlated_hessian(uint64_t cols, uint64_t tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0, 1);
  std::vector<float> scale(cols), x(tokens * cols);
  for (auto& s : scale) s = std::exp(2.0f * n(rng));
  for (uint64_t t = 0; t < tokens; ++t) {
    const float common = n(rng);
    for (uint64_t c = 0; c < cols; ++c)
      x[t * cols + c] = scale[c] * (0.7f * common + 0.5f * n(rng));
  }
  Hessian h;
  h.cols = h.block = cols;
  h.tokens = tokens;
  h.blocks.assign(cols * cols, 0);
  for (uint64_t t = 0; t < tokens; ++t)
    for (uint64_t i = 0; i < cols; ++i)
      for (uint64_t j = 0; j < cols; ++j)
        h.blocks[i * cols + j] += x[t * cols + i] * x[t * cols + j];
  return h;
}

// (w - ŵ) H (w - ŵ)ᵀ: the squared error of the row's products with the calibration inputs.
double h_error(const Hessian& h, const std::vector<float>& w, const std::vector<float>& q) {
  double s = 0;
  for (uint64_t i = 0; i < h.cols; ++i)
    for (uint64_t j = 0; j < h.cols; ++j)
      s += (w[i] - q[i]) * double(h.blocks[i * h.cols + j]) * (w[j] - q[j]);
  return s;
}

std::vector<float> decode(ElemType t, const std::vector<std::byte>& bytes, uint64_t n) {
  std::vector<float> y(n);
  dequantize_row(t, bytes, y);
  return y;
}

std::vector<std::byte> out_for(ElemType t, uint64_t n) {
  return std::vector<std::byte>(*bytes_for_elements(t, n));
}

}  // namespace

TEST_CASE("inverse_cholesky_upper gives U with UᵀU = A⁻¹", "[quant][gptq]") {
  const uint64_t n = 37;
  std::mt19937 rng(7);
  std::normal_distribution<double> d(0, 1);
  std::vector<double> b(n * n), a(n * n, 0.0);
  for (auto& v : b) v = d(rng);
  for (uint64_t i = 0; i < n; ++i)
    for (uint64_t j = 0; j < n; ++j) {
      for (uint64_t k = 0; k < n; ++k) a[i * n + j] += b[i * n + k] * b[j * n + k];
      if (i == j) a[i * n + j] += 1;
    }
  std::vector<double> u = a;
  REQUIRE(inverse_cholesky_upper(u, n));
  for (uint64_t i = 0; i < n; ++i)
    for (uint64_t j = 0; j < i; ++j) CHECK(u[i * n + j] == 0);
  // (UᵀU) A = I.
  for (uint64_t i = 0; i < n; ++i)
    for (uint64_t j = 0; j < n; ++j) {
      double s = 0;
      for (uint64_t k = 0; k < n; ++k) {
        double inv = 0;
        for (uint64_t m = 0; m < n; ++m) inv += u[m * n + i] * u[m * n + k];
        s += inv * a[k * n + j];
      }
      CHECK(s == Approx(i == j ? 1.0 : 0.0).margin(1e-9));
    }
  std::vector<double> not_pd(4, 1.0);  // [[1 1] [1 1]] is singular
  not_pd[3] = 0.5;
  CHECK_FALSE(inverse_cholesky_upper(not_pd, 2));
}

TEST_CASE("with uncorrelated inputs error feedback is plain weighted rounding", "[quant][gptq]") {
  // H diagonal: no column's error can be compensated by another, so the best row is each
  // block's own weighted rounding with diag(H) as importance. (The k-quants: ggml's legacy
  // types derive their importance from the whole row's variance, which a block alone lacks.)
  const uint64_t n = 512;
  Hessian h;
  h.cols = h.block = n;
  h.blocks.assign(n * n, 0);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.1f, 10.0f);
  std::normal_distribution<float> d(0, 1);
  for (uint64_t i = 0; i < n; ++i) h.blocks[i * n + i] = u(rng);
  const GptqFactor f(h);
  std::vector<float> row(n);
  for (auto& v : row) v = d(rng);
  for (ElemType t :
       {ElemType::Q2_K, ElemType::Q3_K, ElemType::Q4_K, ElemType::Q5_K, ElemType::Q6_K}) {
    auto a = out_for(t, n), b = out_for(t, n);
    f.quantize_row(t, row, a, {});
    quantize_row_weighted(t, row, b, f.importance());
    CHECK(a == b);
  }
}

TEST_CASE("when the inputs only see the columns' sum, feedback cancels the rounding errors",
          "[quant][gptq]") {
  // Every token's activations are equal across the columns: H = s·11ᵀ, the output error is
  // s·(Σ e_j)², and feedback pushes each block's error sum into the columns after it, leaving
  // about the last block's residual where plain rounding lets the errors of all blocks add up.
  // (Types with a fixed grid step; the k-quants' scale search, blind to H, can stretch its
  // grid over the pushed values: the random inputs below hold those to account.)
  const uint64_t n = 1024;
  Hessian h;
  h.cols = h.block = n;
  h.blocks.assign(n * n, 1.0f);
  const GptqFactor f(h);
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> row(n);
  for (auto& v : row) v = d(rng) + 0.3f;
  for (ElemType t : {ElemType::Q4_0, ElemType::Q5_0, ElemType::Q8_0}) {
    auto a = out_for(t, n), b = out_for(t, n);
    f.quantize_row(t, row, a, {});
    quantize_row(t, row, b);
    double sum_opt = 0, sum_plain = 0;
    const auto qa = decode(t, a, n), qb = decode(t, b, n);
    for (uint64_t i = 0; i < n; ++i) {
      sum_opt += row[i] - qa[i];
      sum_plain += row[i] - qb[i];
    }
    INFO(type_name(t) << ": sum of errors " << sum_opt << " vs plain " << sum_plain);
    CHECK(std::abs(sum_opt) < 0.25 * std::abs(sum_plain));
  }
}

TEST_CASE("on correlated random inputs feedback never loses to plain rounding in H-error",
          "[quant][gptq]") {
  const uint64_t n = 512, rows = 8;
  const Hessian h = correlated_hessian(n, 2048, 5);
  const GptqFactor f(h);
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0, 1);
  for (ElemType t : {ElemType::Q2_K, ElemType::Q3_K, ElemType::Q4_K, ElemType::Q5_K, ElemType::Q6_K,
                     ElemType::Q4_0, ElemType::Q8_0}) {
    double err_opt = 0, err_plain = 0;
    for (uint64_t r = 0; r < rows; ++r) {
      std::vector<float> row(n);
      for (auto& v : row) v = 0.05f * d(rng);
      auto a = out_for(t, n), b = out_for(t, n);
      f.quantize_row(t, row, a, {});
      quantize_row_weighted(t, row, b, f.importance());
      err_opt += h_error(h, row, decode(t, a, n));
      err_plain += h_error(h, row, decode(t, b, n));
    }
    INFO(type_name(t) << ": H-error " << err_opt << " vs plain " << err_plain);
    CHECK(err_opt < err_plain);
  }
}

TEST_CASE("gptq_supports wants blocks that tile the rows", "[quant][gptq]") {
  CHECK(gptq_supports(ElemType::Q4_K, 1536));
  CHECK_FALSE(gptq_supports(ElemType::Q4_K, 576));
  CHECK(gptq_supports(ElemType::Q5_0, 576));
  CHECK_FALSE(gptq_supports(ElemType::F16, 576));
  CHECK(hessian_block_width(kFullHessianMaxCols) == kFullHessianMaxCols);
  CHECK(hessian_block_width(kFullHessianMaxCols + 256) == kHessianBlockCols);
}
