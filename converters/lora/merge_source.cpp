#include "converters/lora/merge_source.h"

#include "formats/io/error.h"
#include "quant/float_codec.h"

namespace owl::lora {
namespace {

// Bytes of one element of a castable float type (blocks of one element).
uint64_t elem_bytes(ElemType t) {
  return type_info(t).block_bytes;
}

// `rows` rows of `cols` values of `type` from row `first`, as f32.
std::vector<float> rows_as_f32(const Source& src, ElemType type, uint64_t cols, uint64_t first,
                               uint64_t rows) {
  const uint64_t in_row = cols * elem_bytes(type);
  std::vector<std::byte> raw(rows * in_row);
  src.read(first * in_row, raw);
  std::vector<float> out(rows * cols);
  cast_elements(type, raw, ElemType::F32, std::as_writable_bytes(std::span(out)), rows * cols);
  return out;
}

std::vector<float> rows_as_f32(const Tensor& t, uint64_t first, uint64_t rows) {
  return rows_as_f32(*t.data, t.type, t.shape[1], first, rows);
}

}  // namespace

MergedWeightSource::MergedWeightSource(SourcePtr base, ElemType base_type, uint64_t rows,
                                       uint64_t cols, std::vector<Delta> deltas, ElemType out_type)
    : base_(std::move(base)),
      base_type_(base_type),
      out_type_(out_type),
      rows_(rows),
      cols_(cols),
      out_row_bytes_(cols * elem_bytes(out_type)),
      deltas_(std::move(deltas)) {
  if (!is_castable_float(base_type) || !is_castable_float(out_type))
    throw UsageError("a LoRA merge reads and writes float types only");
  for (const auto& d : deltas_) {
    if (d.a.shape.size() != 2 || d.b.shape.size() != 2 || d.a.shape[1] != cols ||
        d.b.shape[0] != rows || d.b.shape[1] != d.a.shape[0])
      throw UsageError("LoRA matrices " + d.b.shape_string() + " x " + d.a.shape_string() +
                       " do not make a [" + std::to_string(rows) + ", " + std::to_string(cols) +
                       "] delta");
  }
}

void MergedWeightSource::read(uint64_t offset, std::span<std::byte> out) const {
  const uint64_t first = offset / out_row_bytes_;
  const uint64_t n = out.size() / out_row_bytes_;
  std::vector<float> w = rows_as_f32(*base_, base_type_, cols_, first, n);
  const auto& as = a_f32();
  for (size_t di = 0; di < deltas_.size(); ++di) {
    const Delta& d = deltas_[di];
    const uint64_t rank = d.a.shape[0];
    const std::vector<float>& a = as[di];
    const std::vector<float> b = rows_as_f32(d.b, first, n);
    // Rows are independent and each is summed in one fixed order (k ascending), so the bytes do
    // not depend on the thread count. B A is formed first and then scaled, as peft does.
#pragma omp parallel for schedule(static) if (n >= 8)
    for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) {
      std::vector<float> row(cols_, 0.0f);
      for (uint64_t k = 0; k < rank; ++k) {
        const float bk = b[i * rank + k];
        const float* ak = &a[k * cols_];
        for (uint64_t j = 0; j < cols_; ++j) row[j] += bk * ak[j];
      }
      float* wi = &w[i * cols_];
      for (uint64_t j = 0; j < cols_; ++j) wi[j] += d.scale * row[j];
    }
  }
  cast_elements(ElemType::F32, std::as_bytes(std::span(w)), out_type_, out, n * cols_);
}

const std::vector<std::vector<float>>& MergedWeightSource::a_f32() const {
  const std::lock_guard lock(a_mutex_);
  if (a_f32_.empty())
    for (const auto& d : deltas_) a_f32_.push_back(rows_as_f32(d.a, 0, d.a.shape[0]));
  return a_f32_;
}

// A is needed whole for every band of rows, so only the end of the tensor lets it go.
void MergedWeightSource::release() const {
  base_->release();
  for (const auto& d : deltas_) {
    d.a.data->release();
    d.b.data->release();
  }
  const std::lock_guard lock(a_mutex_);
  a_f32_.clear();
  a_f32_.shrink_to_fit();
}

void MergedWeightSource::release_range(uint64_t offset, uint64_t length) const {
  const uint64_t first = offset / out_row_bytes_, n = length / out_row_bytes_;
  base_->release_range(first * cols_ * elem_bytes(base_type_), n * cols_ * elem_bytes(base_type_));
  for (const auto& d : deltas_) {
    const uint64_t b_row = d.b.shape[1] * elem_bytes(d.b.type);
    d.b.data->release_range(first * b_row, n * b_row);
  }
}

}  // namespace owl::lora
