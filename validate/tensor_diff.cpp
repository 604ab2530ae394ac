#include "validate/tensor_diff.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <regex>

#include "validate/weight.h"

namespace owl::validate {
namespace {

constexpr uint64_t kDiffRowBlock = 64;

void name_parts(TensorError& e) {
  static const std::regex kLayer(R"(blk\.(\d+)\.(.+?)(\.weight|\.bias)?)");
  static const std::regex kGlobal(R"((.+?)(\.weight|\.bias)?)");
  std::smatch m;
  if (std::regex_match(e.name, m, kLayer)) {
    e.layer = std::stoi(m[1].str());
    e.kind = m[2].str();
  } else if (std::regex_match(e.name, m, kGlobal)) {
    e.kind = m[1].str();
  }
}

TensorError compare(const Tensor& a, const Tensor& b) {
  TensorError e;
  e.name = a.name;
  e.ref_type = type_name(a.type);
  e.test_type = type_name(b.type);
  e.elements = a.elements();
  name_parts(e);
  const Weight wa(a), wb(b);
  const uint64_t rows = wa.rows(), cols = wa.cols();
  std::vector<float> ra(kDiffRowBlock * cols), rb(kDiffRowBlock * cols);
  double ss_ref = 0, ss_test = 0, ss_err = 0, cross = 0, max_abs = 0;
  for (uint64_t r = 0; r < rows; r += kDiffRowBlock) {
    const uint64_t n = std::min(kDiffRowBlock, rows - r);
    wa.rows_f32(r, n, ra.data());
    wb.rows_f32(r, n, rb.data());
    for (uint64_t i = 0; i < n * cols; ++i) {
      const double x = ra[i], y = rb[i], d = y - x;
      ss_ref += x * x;
      ss_test += y * y;
      ss_err += d * d;
      cross += x * y;
      max_abs = std::max(max_abs, std::fabs(d));
    }
  }
  a.data->release();
  b.data->release();
  e.rel_rms = ss_ref > 0 ? std::sqrt(ss_err / ss_ref)
                         : (ss_err > 0 ? std::numeric_limits<double>::infinity() : 0);
  e.snr_db =
      ss_err > 0 ? 10 * std::log10(ss_ref / ss_err) : std::numeric_limits<double>::infinity();
  e.cosine =
      ss_ref > 0 && ss_test > 0 ? cross / std::sqrt(ss_ref * ss_test) : (ss_ref == ss_test ? 1 : 0);
  e.max_abs = max_abs;
  return e;
}

}  // namespace

TensorDiff diff_tensors(const Graph& ref, const Graph& test, Progress* progress) {
  TensorDiff d;
  if (progress) progress->begin("comparing", ref.tensors.size(), ref.tensor_bytes());
  for (const auto& a : ref.tensors) {
    const Tensor* b = test.find(a.name);
    if (!b) {
      d.only_in_ref.push_back(a.name);
    } else if (a.shape != b->shape) {
      d.shape_mismatch.push_back(a.name);
    } else {
      d.tensors.push_back(compare(a, *b));
    }
    if (progress) progress->advance(1, a.byte_size());
  }
  for (const auto& b : test.tensors)
    if (!ref.find(b.name)) d.only_in_test.push_back(b.name);
  if (progress) progress->end();
  return d;
}

}  // namespace owl::validate
