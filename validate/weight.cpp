#include "validate/weight.h"

#include <vector>

#include "formats/io/error.h"
#include "quant/codec.h"
#include "quant/float_codec.h"

namespace owl::validate {
namespace {

bool can_read(ElemType t) {
  return is_castable_float(t) || can_dequantize(t);
}

void decode(ElemType type, const std::byte* in, float* out, uint64_t n) {
  const TypeInfo& info = type_info(type);
  const uint64_t in_bytes = n / info.block_elems * info.block_bytes;
  if (is_castable_float(type)) {
    auto* bytes = reinterpret_cast<std::byte*>(out);
    cast_elements(type, {in, in_bytes}, ElemType::F32, {bytes, n * 4}, n);
  } else {
    dequantize_row(type, {in, in_bytes}, {out, n});
  }
}

}  // namespace

Weight::Weight(const Tensor& t) : t_(&t) {
  // Any shape is rows of its innermost dimension; a scalar is one row of one.
  cols_ = t.shape.empty() ? 1 : t.shape.back();
  rows_ = cols_ == 0 ? 0 : t.elements() / cols_;
  if (!can_read(t.type))
    throw UsageError("weight '" + t.name + "' is " + std::string(type_name(t.type)) +
                     ", which the reference forward cannot read yet");
  row_bytes_ = rows_ ? t.byte_size() / rows_ : 0;
}

void Weight::rows_f32(uint64_t first, uint64_t n, float* out) const {
  first += first_row_;
  auto whole = t_->data->view();
  if (whole.data()) {
    decode(t_->type, whole.data() + first * row_bytes_, out, n * cols_);
    return;
  }
  std::vector<std::byte> buf(n * row_bytes_);
  t_->data->read(first * row_bytes_, buf);
  decode(t_->type, buf.data(), out, n * cols_);
}

uint64_t Weight::experts() const {
  return t_ && t_->shape.size() == 3 ? t_->shape[0] : 1;
}

Weight Weight::expert(uint64_t e) const {
  if (!t_ || t_->shape.size() != 3 || e >= t_->shape[0])
    throw UsageError("weight '" + (t_ ? t_->name : std::string("?")) + "' has no expert " +
                     std::to_string(e));
  Weight w = *this;
  w.rows_ = t_->shape[1];
  w.first_row_ = e * w.rows_;
  return w;
}

}  // namespace owl::validate
