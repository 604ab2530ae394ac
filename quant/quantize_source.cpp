#include "quant/quantize_source.h"

#include <stdexcept>
#include <vector>

#include "quant/float_codec.h"
#include "quant/legacy.h"

namespace owl {

bool can_quantize_to(ElemType t) { return t == ElemType::Q8_0; }

QuantizeSource::QuantizeSource(SourcePtr input, ElemType from, ElemType to, uint64_t rows, uint64_t row_elems)
    : input_(std::move(input)), from_(from), to_(to), rows_(rows), row_elems_(row_elems) {
  if (!can_quantize_to(to) || !is_castable_float(from)) throw std::logic_error("QuantizeSource: unsupported types");
  row_bytes_ = *bytes_for_elements(to, row_elems);
  in_row_bytes_ = row_elems * type_info(from).block_bytes;
}

void QuantizeSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset % row_bytes_ || out.size() % row_bytes_) throw std::logic_error("QuantizeSource: unaligned read");
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
  // Rows are independent: threads split them, and the bytes do not depend on the split.
#pragma omp parallel for schedule(static) if (n > 16)
  for (int64_t r = 0; r < static_cast<int64_t>(n); ++r) {
    std::vector<float> row(row_elems_);
    const auto src = rows_in.subspan(static_cast<uint64_t>(r) * in_row_bytes_, in_row_bytes_);
    auto* bytes = reinterpret_cast<std::byte*>(row.data());
    cast_elements(from_, src, ElemType::F32, std::span<std::byte>(bytes, row_elems_ * 4), row_elems_);
    quantize_q8_0(row.data(), out.data() + static_cast<uint64_t>(r) * row_bytes_, row_elems_);
  }
}

void QuantizeSource::release_range(uint64_t offset, uint64_t length) const {
  input_->release_range(offset / row_bytes_ * in_row_bytes_, length / row_bytes_ * in_row_bytes_);
}

}  // namespace owl
