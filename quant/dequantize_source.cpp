#include "quant/dequantize_source.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "formats/io/checked_math.h"
#include "quant/codec.h"
#include "quant/float_codec.h"

namespace owl {

bool can_dequantize_from(ElemType t) {
  return is_castable_float(t) || can_dequantize(t);
}

DequantizeSource::DequantizeSource(SourcePtr input, ElemType from, ElemType to, uint64_t rows,
                                   uint64_t row_elems)
    : input_(std::move(input)), from_(from), to_(to), rows_(rows), row_elems_(row_elems) {
  const auto fail = [&](const std::string& why) {
    throw std::invalid_argument("DequantizeSource " + std::string(type_name(from)) + " -> " +
                                std::string(type_name(to)) + ": " + why);
  };
  if (!can_dequantize_from(from)) fail("no dequantizer for the input type");
  if (to != ElemType::F32 && to != ElemType::F16 && to != ElemType::BF16)
    fail("the output must be F32, F16 or BF16");
  const auto in_row = bytes_for_elements(from, row_elems);
  const auto out_row = bytes_for_elements(to, row_elems);
  if (!in_row || !out_row)
    fail("a row of " + std::to_string(row_elems) + " elements is not whole blocks");
  const auto in_total = checked_mul(rows, *in_row), out_total = checked_mul(rows, *out_row);
  if (!in_total || !out_total) fail("the size overflows");
  if (*in_total != input_->byte_size())
    fail("the input holds " + std::to_string(input_->byte_size()) + " bytes, not " +
         std::to_string(*in_total));
  in_row_bytes_ = *in_row;
  out_row_bytes_ = *out_row;
}

void DequantizeSource::convert_row(std::span<const std::byte> in, std::span<std::byte> out) const {
  if (is_castable_float(from_)) {
    cast_elements(from_, in, to_, out, row_elems_);
    return;
  }
  const bool aligned = reinterpret_cast<uintptr_t>(out.data()) % alignof(float) == 0;
  if (to_ == ElemType::F32 && aligned) {
    dequantize_row(from_, in, std::span<float>(reinterpret_cast<float*>(out.data()), row_elems_));
    return;
  }
  std::vector<float> row(row_elems_);
  dequantize_row(from_, in, row);
  cast_elements(ElemType::F32, std::as_bytes(std::span<const float>(row)), to_, out, row_elems_);
}

void DequantizeSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset % out_row_bytes_ || out.size() % out_row_bytes_)
    throw std::logic_error("DequantizeSource: unaligned read");
  const uint64_t first = offset / out_row_bytes_, n = out.size() / out_row_bytes_;
  std::vector<std::byte> buffer;
  std::span<const std::byte> rows_in = input_->view();
  if (rows_in.data()) {
    rows_in = rows_in.subspan(first * in_row_bytes_, n * in_row_bytes_);
  } else {
    buffer.resize(n * in_row_bytes_);
    input_->read(first * in_row_bytes_, buffer);
    rows_in = buffer;
  }
  // Rows are independent and nothing here throws once the sizes were checked, so threads may
  // split them freely.
#pragma omp parallel for schedule(static) if (n > 16)
  for (int64_t r = 0; r < static_cast<int64_t>(n); ++r) {
    const uint64_t row = static_cast<uint64_t>(r);
    convert_row(rows_in.subspan(row * in_row_bytes_, in_row_bytes_),
                out.subspan(row * out_row_bytes_, out_row_bytes_));
  }
}

void DequantizeSource::release_range(uint64_t offset, uint64_t length) const {
  input_->release_range(offset / out_row_bytes_ * in_row_bytes_,
                        length / out_row_bytes_ * in_row_bytes_);
}

}  // namespace owl
