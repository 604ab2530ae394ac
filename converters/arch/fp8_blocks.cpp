#include "converters/arch/fp8_blocks.h"

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <stdexcept>

#include "formats/io/error.h"

namespace owl::arch {
namespace {

constexpr std::string_view kScaleSuffix = "_scale_inv";
// A block edge no checkpoint comes near; it keeps a hostile config's sizes sane.
constexpr int64_t kMaxBlockEdge = 1 << 20;

const std::array<float, 256>& e4m3fn_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int code = 0; code < 256; ++code) {
      const int exp = (code >> 3) & 0xF, man = code & 0x7;
      float v;
      if (exp == 0xF && man == 0x7)
        v = std::numeric_limits<float>::quiet_NaN();
      else if (exp == 0)  // subnormal: no implicit leading one, the smallest exponent
        v = std::ldexp(static_cast<float>(man) / 8.0f, -6);
      else
        v = std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
      t[code] = (code & 0x80) ? -v : v;
    }
    return t;
  }();
  return table;
}

uint64_t ceil_div(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

float e4m3fn_to_f32(uint8_t code) {
  return e4m3fn_table()[code];
}

Fp8BlockSource::Fp8BlockSource(SourcePtr weight, SourcePtr scale, uint64_t rows, uint64_t cols,
                               uint64_t block_rows, uint64_t block_cols)
    : weight_(std::move(weight)),
      scale_(std::move(scale)),
      rows_(rows),
      cols_(cols),
      block_rows_(block_rows),
      block_cols_(block_cols) {
  if (rows_ == 0 || cols_ == 0 || block_rows_ == 0 || block_cols_ == 0 ||
      weight_->byte_size() != rows_ * cols_)
    throw std::invalid_argument("Fp8BlockSource: the weight is not rows x cols bytes");
  scale_cols_ = ceil_div(cols_, block_cols_);
  if (scale_->byte_size() != ceil_div(rows_, block_rows_) * scale_cols_ * sizeof(float))
    throw std::invalid_argument("Fp8BlockSource: the scales do not cover the blocks");
}

void Fp8BlockSource::read(uint64_t offset, std::span<std::byte> out) const {
  const uint64_t row_bytes = cols_ * sizeof(float);
  if (offset % row_bytes || out.size() % row_bytes || offset > byte_size() ||
      out.size() > byte_size() - offset)
    throw std::out_of_range("Fp8BlockSource::read");
  const uint64_t first = offset / row_bytes, rows = out.size() / row_bytes;
  if (rows == 0) return;
  // The scale rows these weight rows use, and the weight rows themselves.
  const uint64_t s_first = first / block_rows_, s_last = (first + rows - 1) / block_rows_;
  std::vector<float> scales((s_last - s_first + 1) * scale_cols_);
  scale_->read(s_first * scale_cols_ * sizeof(float),
               std::as_writable_bytes(std::span<float>(scales)));
  std::vector<uint8_t> codes(rows * cols_);
  weight_->read(first * cols_, std::as_writable_bytes(std::span<uint8_t>(codes)));
  const auto& table = e4m3fn_table();
  for (uint64_t r = 0; r < rows; ++r) {
    const float* s = scales.data() + ((first + r) / block_rows_ - s_first) * scale_cols_;
    for (uint64_t c = 0; c < cols_; ++c) {
      const float v = table[codes[r * cols_ + c]] * s[c / block_cols_];
      std::memcpy(out.data() + (r * cols_ + c) * sizeof(float), &v, sizeof v);
    }
  }
}

void Fp8BlockSource::release_range(uint64_t offset, uint64_t length) const {
  const uint64_t row_bytes = cols_ * sizeof(float);
  weight_->release_range(offset / row_bytes * cols_, length / row_bytes * cols_);
}

std::set<std::string> dequantize_fp8_weights(std::vector<Tensor>& tensors, const HParams& hp,
                                             const std::string& where) {
  std::set<std::string> consumed;
  if (hp.opt_string("quantization_config.quant_method") != "fp8") return consumed;
  // [rows, cols] of each block; without weight_block_size, one scale per row or per tensor.
  std::optional<std::pair<uint64_t, uint64_t>> block;
  if (const Value* v = hp.find("quantization_config.weight_block_size")) {
    const auto edges = hp.opt_floats("quantization_config.weight_block_size");
    if (edges->size() != 2)
      hp.fail("quantization_config.weight_block_size",
              "is " + v->to_display() + ", not [rows, columns]");
    for (double e : *edges)
      if (e < 1 || e > kMaxBlockEdge || e != std::floor(e))
        hp.fail("quantization_config.weight_block_size", "is " + v->to_display() +
                                                             ", not two block sizes in 1.." +
                                                             std::to_string(kMaxBlockEdge));
    block = {static_cast<uint64_t>((*edges)[0]), static_cast<uint64_t>((*edges)[1])};
  }

  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < tensors.size(); ++i) by_name[tensors[i].name] = i;
  for (const Tensor& s : tensors) {
    if (s.name.ends_with(".activation_scale")) consumed.insert(s.name);
    if (!s.name.ends_with(kScaleSuffix)) continue;
    const std::string weight_name = s.name.substr(0, s.name.size() - kScaleSuffix.size());
    const auto it = by_name.find(weight_name);
    if (it == by_name.end())
      throw InputError(where, "tensor '" + s.name + "' scales '" + weight_name +
                                  "', which the checkpoint does not have");
    Tensor& w = tensors[it->second];
    if (w.type != ElemType::F8_E4M3 || w.shape.size() != 2 || w.shape[0] == 0 || w.shape[1] == 0)
      throw InputError(where, "tensor '" + w.name + "' is " + std::string(type_name(w.type)) + " " +
                                  w.shape_string() +
                                  "; owl dequantizes FP8 weights that are F8_E4M3 matrices");
    const uint64_t rows = w.shape[0], cols = w.shape[1];
    auto [block_rows, block_cols] = block.value_or(std::pair{uint64_t{1}, cols});
    if (!block && s.elements() == 1) block_rows = rows;
    const uint64_t want = ceil_div(rows, block_rows) * ceil_div(cols, block_cols);
    if (s.type != ElemType::F32 || s.elements() != want)
      throw InputError(where, "tensor '" + s.name + "' is " + std::string(type_name(s.type)) + " " +
                                  s.shape_string() + ", not F32 with the " + std::to_string(want) +
                                  " scales that " + w.shape_string() + " in blocks of " +
                                  std::to_string(block_rows) + " x " + std::to_string(block_cols) +
                                  " needs");
    w.data = std::make_shared<Fp8BlockSource>(w.data, s.data, rows, cols, block_rows, block_cols);
    w.type = ElemType::F32;
    consumed.insert(s.name);
  }
  return consumed;
}

}  // namespace owl::arch
