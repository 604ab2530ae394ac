#include "converters/arch/expert_layout.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "converters/types.h"
#include "formats/io/error.h"

namespace owl::arch {
namespace {

constexpr uint64_t kOpenAiBlockBytes = 16;                                 // 32 codes of 4 bits
const uint64_t kMXFP4BlockBytes = type_info(ElemType::MXFP4).block_bytes;  // exponent + codes

void check_pick(const RowPick& p, uint64_t rows, const char* what) {
  if (p.count == 0 || p.step == 0 || p.start >= rows ||
      (p.count - 1) > (rows - 1 - p.start) / p.step)
    throw UsageError(std::string(what) + ": the rows picked run past the " + std::to_string(rows) +
                     " there are");
}

// The bytes of one expert of `src` ([experts, n] bytes each): in place when mapped, else read.
std::span<const std::byte> expert_bytes(const Source& src, uint64_t expert, uint64_t n,
                                        std::vector<std::byte>& buffer) {
  if (auto v = src.view(); v.data()) return v.subspan(expert * n, n);
  buffer.resize(n);
  src.read(expert * n, buffer);
  return buffer;
}

template <size_t N>
void gather_columns(const std::byte* in, std::byte* out, uint64_t rows, uint64_t cols,
                    const RowPick& p) {
  for (uint64_t r = 0; r < rows; ++r) {
    const std::byte* row = in + r * cols * N;
    for (uint64_t k = 0; k < p.count; ++k)
      std::memcpy(out + (k * rows + r) * N, row + (p.start + k * p.step) * N, N);
  }
}

void gather_columns(const std::byte* in, std::byte* out, uint64_t rows, uint64_t cols,
                    uint64_t elem, const RowPick& p) {
  switch (elem) {
    case 2:
      return gather_columns<2>(in, out, rows, cols, p);
    case 4:
      return gather_columns<4>(in, out, rows, cols, p);
    default:
      for (uint64_t r = 0; r < rows; ++r)
        for (uint64_t k = 0; k < p.count; ++k)
          std::memcpy(out + (k * rows + r) * elem, in + (r * cols + p.start + k * p.step) * elem,
                      elem);
  }
}

}  // namespace

TransposedExpertsSource::TransposedExpertsSource(SourcePtr input, uint64_t experts, uint64_t rows,
                                                 uint64_t cols, uint64_t elem_bytes, RowPick pick)
    : input_(std::move(input)),
      experts_(experts),
      rows_(rows),
      cols_(cols),
      elem_(elem_bytes),
      pick_(pick),
      expert_bytes_(pick.count * rows * elem_bytes) {
  check_pick(pick, cols, "transposing experts");
  if (experts == 0 || rows == 0 || elem_bytes == 0 ||
      input_->byte_size() != experts * rows * cols * elem_bytes)
    throw UsageError("transposing experts: the input is not " + std::to_string(experts) + " x " +
                     std::to_string(rows) + " x " + std::to_string(cols) + " elements");
}

void TransposedExpertsSource::transpose(uint64_t expert, std::span<std::byte> out) const {
  std::vector<std::byte> buffer;
  const auto in = expert_bytes(*input_, expert, rows_ * cols_ * elem_, buffer);
  gather_columns(in.data(), out.data(), rows_, cols_, elem_, pick_);
}

void TransposedExpertsSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset > byte_size() || out.size() > byte_size() - offset || offset % elem_ ||
      out.size() % elem_)
    throw std::out_of_range("TransposedExpertsSource::read");
  uint64_t done = 0;
  while (done < out.size()) {
    const uint64_t at = offset + done;
    const uint64_t e = at / expert_bytes_, within = at % expert_bytes_;
    const uint64_t n = std::min(expert_bytes_ - within, out.size() - done);
    if (n == expert_bytes_) {
      transpose(e, out.subspan(done, n));  // a whole expert: straight into the caller's buffer
    } else {
      std::lock_guard lock(mu_);
      if (cached_ != e) {
        cache_.resize(expert_bytes_);
        transpose(e, cache_);
        cached_ = e;
      }
      std::memcpy(out.data() + done, cache_.data() + within, n);
    }
    done += n;
  }
}

void TransposedExpertsSource::release() const {
  input_->release();
  std::lock_guard lock(mu_);
  std::vector<std::byte>().swap(cache_);
  cached_ = UINT64_MAX;
}

void TransposedExpertsSource::release_range(uint64_t offset, uint64_t length) const {
  // Only experts the range covers whole are done with: their input, and the cache if it is one.
  const uint64_t first = (offset + expert_bytes_ - 1) / expert_bytes_;
  const uint64_t end = std::min(experts_, (offset + length) / expert_bytes_);
  const uint64_t in_bytes = rows_ * cols_ * elem_;
  for (uint64_t e = first; e < end; ++e) input_->release_range(e * in_bytes, in_bytes);
  std::lock_guard lock(mu_);
  if (cached_ >= first && cached_ < end) {
    std::vector<std::byte>().swap(cache_);
    cached_ = UINT64_MAX;
  }
}

Mxfp4RepackSource::Mxfp4RepackSource(SourcePtr blocks, SourcePtr scales, uint64_t experts,
                                     uint64_t rows, uint64_t groups, RowPick pick)
    : blocks_(std::move(blocks)),
      scales_(std::move(scales)),
      experts_(experts),
      rows_(rows),
      groups_(groups),
      pick_(pick) {
  check_pick(pick, rows, "repacking MXFP4 experts");
  const uint64_t n = experts * rows * groups;
  if (n == 0 || blocks_->byte_size() != n * kOpenAiBlockBytes || scales_->byte_size() != n)
    throw UsageError("repacking MXFP4 experts: blocks and scales do not hold " +
                     std::to_string(experts) + " x " + std::to_string(rows) + " x " +
                     std::to_string(groups) + " blocks");
}

uint64_t Mxfp4RepackSource::byte_size() const {
  return experts_ * pick_.count * groups_ * kMXFP4BlockBytes;
}

uint64_t Mxfp4RepackSource::granule() const {
  return kMXFP4BlockBytes;
}

void Mxfp4RepackSource::repack_block(const std::byte* openai, std::byte* ggml) {
  // OpenAI: byte i holds weights 2i (low) and 2i + 1 (high). ggml: byte j holds j and j + 16.
  auto code = [&](int w) {
    const auto b = static_cast<uint8_t>(openai[w / 2]);
    return static_cast<uint8_t>(w % 2 ? b >> 4 : b & 0x0F);
  };
  for (int j = 0; j < 16; ++j) ggml[j] = static_cast<std::byte>(code(j) | code(j + 16) << 4);
}

void Mxfp4RepackSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset > byte_size() || out.size() > byte_size() - offset || offset % kMXFP4BlockBytes ||
      out.size() % kMXFP4BlockBytes)
    throw std::out_of_range("Mxfp4RepackSource::read");
  std::vector<std::byte> codes, exps;
  const uint64_t first = offset / kMXFP4BlockBytes, n = out.size() / kMXFP4BlockBytes;
  uint64_t b = 0;
  while (b < n) {
    // The blocks left in this output row, which come from one input row.
    const uint64_t block = first + b, row = block / groups_, g = block % groups_;
    const uint64_t e = row / pick_.count, k = row % pick_.count;
    const uint64_t in_row = e * rows_ + pick_.start + k * pick_.step;
    const uint64_t count = std::min(groups_ - g, n - b);
    codes.resize(count * kOpenAiBlockBytes);
    exps.resize(count);
    blocks_->read((in_row * groups_ + g) * kOpenAiBlockBytes, codes);
    scales_->read(in_row * groups_ + g, exps);
    for (uint64_t i = 0; i < count; ++i) {
      std::byte* dst = out.data() + (b + i) * kMXFP4BlockBytes;
      dst[0] = exps[i];
      repack_block(codes.data() + i * kOpenAiBlockBytes, dst + 1);
    }
    b += count;
  }
}

void Mxfp4RepackSource::release_range(uint64_t offset, uint64_t length) const {
  const uint64_t row_bytes = groups_ * kMXFP4BlockBytes;
  const uint64_t first = (offset + row_bytes - 1) / row_bytes;
  const uint64_t end = std::min(experts_ * pick_.count, (offset + length) / row_bytes);
  if (first >= end) return;
  auto in_row = [&](uint64_t row) {
    return row / pick_.count * rows_ + pick_.start + row % pick_.count * pick_.step;
  };
  const uint64_t lo = in_row(first), hi = in_row(end - 1) + 1;
  blocks_->release_range(lo * groups_ * kOpenAiBlockBytes, (hi - lo) * groups_ * kOpenAiBlockBytes);
  scales_->release_range(lo * groups_, (hi - lo) * groups_);
}

void Mxfp4RepackSource::release() const {
  blocks_->release();
  scales_->release();
}

Mxfp4SplitSource::Mxfp4SplitSource(SourcePtr ggml, Part part)
    : ggml_(std::move(ggml)),
      part_(part),
      blocks_(ggml_->byte_size() / kMXFP4BlockBytes),
      out_block_(part == Part::codes ? kOpenAiBlockBytes : 1) {
  if (blocks_ == 0 || ggml_->byte_size() % kMXFP4BlockBytes)
    throw UsageError("splitting MXFP4 blocks: " + std::to_string(ggml_->byte_size()) +
                     " bytes are not whole blocks of " + std::to_string(kMXFP4BlockBytes));
}

void Mxfp4SplitSource::unpack_block(const std::byte* ggml, std::byte* openai) {
  // ggml: byte j holds weights j (low) and j + 16 (high). OpenAI: byte i holds 2i and 2i + 1.
  auto code = [&](int w) {
    const auto b = static_cast<uint8_t>(ggml[w % 16]);
    return static_cast<uint8_t>(w < 16 ? b & 0x0F : b >> 4);
  };
  for (int i = 0; i < 16; ++i)
    openai[i] = static_cast<std::byte>(code(2 * i) | code(2 * i + 1) << 4);
}

void Mxfp4SplitSource::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset > byte_size() || out.size() > byte_size() - offset || offset % out_block_ ||
      out.size() % out_block_)
    throw std::out_of_range("Mxfp4SplitSource::read");
  // A bounded run of input blocks at a time, whatever the size of the read; each run's input is
  // released once moved, as the exponents are 1/17 of it: a read of a writer's chunk of them
  // covers seventeen chunks of input.
  constexpr uint64_t kRun = 1 << 16;
  std::vector<std::byte> in;
  const uint64_t first = offset / out_block_, n = out.size() / out_block_;
  for (uint64_t b = 0; b < n; b += kRun) {
    const uint64_t count = std::min(kRun, n - b);
    in.resize(count * kMXFP4BlockBytes);
    ggml_->read((first + b) * kMXFP4BlockBytes, in);
    for (uint64_t i = 0; i < count; ++i) {
      const std::byte* src = in.data() + i * kMXFP4BlockBytes;
      std::byte* dst = out.data() + (b + i) * out_block_;
      if (part_ == Part::codes)
        unpack_block(src + 1, dst);
      else
        dst[0] = src[0];
    }
    ggml_->release_range((first + b) * kMXFP4BlockBytes, in.size());
  }
}

void Mxfp4SplitSource::release_range(uint64_t offset, uint64_t length) const {
  if (offset >= byte_size()) return;
  length = std::min(length, byte_size() - offset);
  const uint64_t first = (offset + out_block_ - 1) / out_block_;
  const uint64_t end = (offset + length) / out_block_;
  if (first < end) ggml_->release_range(first * kMXFP4BlockBytes, (end - first) * kMXFP4BlockBytes);
}

}  // namespace owl::arch
