// The views that turn transformers' and OpenAI's expert stacks into GGUF's: a transpose that
// picks rows (the gate/up split), built once per expert however it is read; and MXFP4 blocks
// moved from OpenAI's nibble order into ggml's, which ggml's own decoding must then read as the
// values OpenAI's order stands for.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>

#include "converters/arch/expert_layout.h"
#include "converters/arch/interleave.h"
#include "formats/io/error.h"
#include "quant/fp4.h"

namespace owl {
namespace {

using arch::InterleaveSource;
using arch::Mxfp4RepackSource;
using arch::Mxfp4SplitSource;
using arch::RowPick;
using arch::TransposedExpertsSource;

// Bytes without a view, counting reads: a transpose that reads its input once per expert.
class CountedBytes final : public Source {
 public:
  explicit CountedBytes(std::vector<std::byte> b) : bytes_(std::move(b)) {}
  uint64_t byte_size() const override { return bytes_.size(); }
  void read(uint64_t offset, std::span<std::byte> out) const override {
    REQUIRE(offset + out.size() <= bytes_.size());
    std::memcpy(out.data(), bytes_.data() + offset, out.size());
    ++reads;
  }
  mutable std::atomic<int> reads = 0;

 private:
  std::vector<std::byte> bytes_;
};

// [experts, rows, cols] of uint16 whose value encodes its own position.
std::vector<std::byte> positions(uint64_t experts, uint64_t rows, uint64_t cols) {
  std::vector<std::byte> out(experts * rows * cols * 2);
  for (uint64_t e = 0; e < experts; ++e)
    for (uint64_t r = 0; r < rows; ++r)
      for (uint64_t c = 0; c < cols; ++c) {
        const uint16_t v = static_cast<uint16_t>(e * 1000 + r * 40 + c);
        std::memcpy(out.data() + ((e * rows + r) * cols + c) * 2, &v, 2);
      }
  return out;
}

uint16_t at(const std::vector<std::byte>& b, uint64_t i) {
  uint16_t v;
  std::memcpy(&v, b.data() + 2 * i, 2);
  return v;
}

TEST_CASE("TransposedExpertsSource transposes each expert and picks its rows", "[experts]") {
  constexpr uint64_t E = 3, R = 5, C = 6;
  struct Case {
    RowPick pick;
    const char* what;
  };
  const Case cases[] = {{{0, 1, C}, "all"},
                        {{0, 1, C / 2}, "first half"},
                        {{C / 2, 1, C / 2}, "second half"},
                        {{0, 2, C / 2}, "even"},
                        {{1, 2, C / 2}, "odd"}};
  for (const Case& c : cases) {
    INFO(c.what);
    auto input = std::make_shared<CountedBytes>(positions(E, R, C));
    const TransposedExpertsSource t(input, E, R, C, 2, c.pick);
    REQUIRE(t.byte_size() == E * c.pick.count * R * 2);
    const auto all = read_all(t);
    for (uint64_t e = 0; e < E; ++e)
      for (uint64_t k = 0; k < c.pick.count; ++k)
        for (uint64_t r = 0; r < R; ++r)
          REQUIRE(at(all, (e * c.pick.count + k) * R + r) ==
                  e * 1000 + r * 40 + c.pick.start + k * c.pick.step);
    // Read in pieces that straddle experts: the same bytes, each expert's input read once.
    input->reads = 0;
    std::vector<std::byte> pieces(all.size());
    for (uint64_t at = 0; at < all.size(); at += 6)
      t.read(at, std::span(pieces).subspan(at, std::min<uint64_t>(6, all.size() - at)));
    CHECK(pieces == all);
    CHECK(input->reads == static_cast<int>(E));
  }
}

TEST_CASE("TransposedExpertsSource refuses picks and sizes that do not fit", "[experts]") {
  auto input = std::make_shared<BufferSource>(positions(2, 3, 4));
  CHECK_THROWS_AS(TransposedExpertsSource(input, 2, 3, 4, 2, {1, 2, 3}), UsageError);
  CHECK_THROWS_AS(TransposedExpertsSource(input, 2, 3, 4, 2, {4, 1, 1}), UsageError);
  CHECK_THROWS_AS(TransposedExpertsSource(input, 2, 3, 5, 2, {0, 1, 5}), UsageError);
  CHECK_NOTHROW(TransposedExpertsSource(input, 2, 3, 4, 2, {1, 2, 2}));
}

// OpenAI's decoding (transformers' convert_moe_packed_tensors): byte i of a block holds weight 2i
// in its low nibble and 2i + 1 in its high one; a code's value is the E2M1 table's times
// 2^(scale - 127).
float openai_value(const std::vector<uint8_t>& blocks, const std::vector<uint8_t>& scales,
                   uint64_t block, int w) {
  static const float kE2M1[16] = {0,    0.5f,  1,  1.5f, 2,  3,  4,  6,
                                  -0.f, -0.5f, -1, -1.5, -2, -3, -4, -6};
  const uint8_t byte = blocks[block * 16 + w / 2];
  const int code = w % 2 ? byte >> 4 : byte & 0x0F;
  return std::ldexp(kE2M1[code], static_cast<int>(scales[block]) - 127);
}

TEST_CASE("Mxfp4RepackSource gives blocks ggml decodes as OpenAI's values", "[experts]") {
  constexpr uint64_t E = 2, R = 6, G = 3;
  std::mt19937 rng(7);
  std::vector<uint8_t> blocks(E * R * G * 16), scales(E * R * G);
  for (auto& b : blocks) b = static_cast<uint8_t>(rng());
  for (auto& s : scales) s = static_cast<uint8_t>(120 + rng() % 12);
  auto as_source = [](const std::vector<uint8_t>& v) {
    const auto* p = reinterpret_cast<const std::byte*>(v.data());
    return std::make_shared<BufferSource>(std::vector<std::byte>(p, p + v.size()));
  };
  for (const RowPick pick : {RowPick{0, 1, R}, RowPick{0, 2, R / 2}, RowPick{1, 2, R / 2}}) {
    const Mxfp4RepackSource src(as_source(blocks), as_source(scales), E, R, G, pick);
    const uint64_t rows = E * pick.count;
    REQUIRE(src.byte_size() == rows * G * kMXFP4BlockBytes);
    const auto packed = read_all(src);
    std::vector<float> got(rows * G * 32);
    dequantize_mxfp4(packed.data(), got.data(), got.size());
    for (uint64_t e = 0; e < E; ++e)
      for (uint64_t k = 0; k < pick.count; ++k)
        for (uint64_t g = 0; g < G; ++g)
          for (int w = 0; w < 32; ++w) {
            const uint64_t in_block = (e * R + pick.start + k * pick.step) * G + g;
            const float want = openai_value(blocks, scales, in_block, w);
            REQUIRE(got[((e * pick.count + k) * G + g) * 32 + w] == want);
          }
    // Reads of single blocks agree with the whole.
    std::vector<std::byte> one(kMXFP4BlockBytes);
    for (uint64_t b = 0; b < rows * G; ++b) {
      src.read(b * kMXFP4BlockBytes, one);
      REQUIRE(std::memcmp(one.data(), packed.data() + b * kMXFP4BlockBytes, one.size()) == 0);
    }
  }
}

TEST_CASE("Mxfp4SplitSource undoes the repack: OpenAI's blocks and scales come back", "[experts]") {
  constexpr uint64_t E = 2, R = 4, G = 3;
  std::mt19937 rng(11);
  std::vector<std::byte> blocks(E * R * G * 16), scales(E * R * G);
  for (auto& b : blocks) b = static_cast<std::byte>(rng());
  for (auto& s : scales) s = static_cast<std::byte>(rng());
  auto packed = std::make_shared<Mxfp4RepackSource>(std::make_shared<BufferSource>(blocks),
                                                    std::make_shared<BufferSource>(scales), E, R, G,
                                                    RowPick{0, 1, R});
  const Mxfp4SplitSource codes(packed, Mxfp4SplitSource::Part::codes);
  const Mxfp4SplitSource exps(packed, Mxfp4SplitSource::Part::exponents);
  CHECK(codes.granule() == 16);
  CHECK(read_all(codes) == blocks);
  CHECK(read_all(exps) == scales);
  // One block at a time, from the middle.
  std::vector<std::byte> one(16);
  codes.read(5 * 16, one);
  CHECK(std::equal(one.begin(), one.end(), blocks.begin() + 5 * 16));
  CHECK_THROWS_AS(Mxfp4SplitSource(std::make_shared<BufferSource>(std::vector<std::byte>(16)),
                                   Mxfp4SplitSource::Part::codes),
                  UsageError);
}

TEST_CASE("InterleaveSource deals two sources back into one, piece by piece", "[experts]") {
  // The way back of the gate/up picks: gate rows (even) and up rows (odd) taking turns, and gate
  // above up in each expert; each read straight from the inputs, in any pieces.
  constexpr uint64_t E = 3, R = 4, C = 5;
  const auto whole = positions(E, R, C);  // [experts, rows, cols] of uint16
  for (const bool alternate : {true, false}) {
    INFO((alternate ? "alternate" : "halves"));
    const RowPick first = alternate ? RowPick{0, 2, R / 2} : RowPick{0, 1, R / 2};
    const RowPick second = alternate ? RowPick{1, 2, R / 2} : RowPick{R / 2, 1, R / 2};
    // The picks as TransposedExpertsSource makes them from the transposed stack, transposed back.
    auto transposed = std::make_shared<BufferSource>(read_all(TransposedExpertsSource(
        std::make_shared<BufferSource>(whole), E, R, C, 2, RowPick{0, 1, C})));
    auto a = std::make_shared<BufferSource>(
        read_all(TransposedExpertsSource(transposed, E, C, R, 2, first)));
    auto b = std::make_shared<BufferSource>(
        read_all(TransposedExpertsSource(transposed, E, C, R, 2, second)));
    const InterleaveSource joined(a, b, alternate ? E * R / 2 : E);
    REQUIRE(joined.byte_size() == whole.size());
    CHECK(read_all(joined) == whole);
    std::vector<std::byte> pieces(whole.size());
    for (uint64_t at = 0; at < whole.size(); at += 6)
      joined.read(at, std::span(pieces).subspan(at, std::min<uint64_t>(6, whole.size() - at)));
    CHECK(pieces == whole);
  }
  auto three = std::make_shared<BufferSource>(std::vector<std::byte>(3));
  auto four = std::make_shared<BufferSource>(std::vector<std::byte>(4));
  CHECK_THROWS_AS(InterleaveSource(three, four, 2), UsageError);
  CHECK_THROWS_AS(InterleaveSource(four, four, 0), UsageError);
  CHECK_NOTHROW(InterleaveSource(three, four, 1));
}

}  // namespace
}  // namespace owl
