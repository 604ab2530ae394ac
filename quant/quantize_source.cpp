#include "quant/quantize_source.h"

#include <stdexcept>
#include <vector>

#include "quant/codec.h"
#include "quant/float_codec.h"

namespace owl {

bool can_quantize_to(ElemType t) {
  return can_quantize(t);
}

QuantizeSource::QuantizeSource(SourcePtr input, ElemType from, ElemType to, uint64_t rows,
                               uint64_t row_elems)
    : input_(std::move(input)), from_(from), to_(to), rows_(rows), row_elems_(row_elems) {
  if (!can_quantize_to(to) || !is_castable_float(from))
    throw std::logic_error("QuantizeSource: unsupported types");
  row_bytes_ = *bytes_for_elements(to, row_elems);
  in_row_bytes_ = row_elems * type_info(from).block_bytes;
}

void QuantizeSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset % row_bytes_ || out.size() % row_bytes_)
    throw std::logic_error("QuantizeSource: unaligned read");
  const uint64_t first = offset / row_bytes_, n = out.size() / row_bytes_;
  std::vector<std::byte> in;
  auto whole = input_->view();
  std::span<const std::byte> rows_in;
  if (whole.data()) {
    rows_in = whole.subspan(first * in_row_bytes_, n * in_row_bytes_);
  } else {
    in.resize(n * in_row_bytes_);
    input_->read(first * in_row_bytes_, in);
    rows_in = in;
  }
  // Rows are independent: threads split them, and the bytes do not depend on the split. An
  // exception cannot leave an OpenMP loop, so each row notes its first NaN or infinity and the
  // first such row is reported after the loop.
  const QuantizeRowFn quantize = block_codec(to_).quantize;
  std::vector<uint64_t> bad_at(n, row_elems_);
  std::vector<float> bad_value(n);
#pragma omp parallel for schedule(static) if (n > 16)
  for (int64_t r = 0; r < static_cast<int64_t>(n); ++r) {
    const uint64_t i = static_cast<uint64_t>(r);
    std::vector<float> row(row_elems_);
    cast_elements(from_, rows_in.subspan(i * in_row_bytes_, in_row_bytes_), ElemType::F32,
                  std::as_writable_bytes(std::span<float>(row)), row_elems_);
    bad_at[i] = first_non_finite(row);
    if (bad_at[i] != row_elems_) {
      bad_value[i] = row[bad_at[i]];
      continue;
    }
    quantize(row.data(), out.data() + i * row_bytes_, row_elems_);
  }
  for (uint64_t i = 0; i < n; ++i) {
    if (bad_at[i] != row_elems_)
      throw NonFiniteValue((first + i) * row_elems_ + bad_at[i], bad_value[i]);
  }
}

void QuantizeSource::release_range(uint64_t offset, uint64_t length) const {
  input_->release_range(offset / row_bytes_ * in_row_bytes_, length / row_bytes_ * in_row_bytes_);
}

}  // namespace owl
