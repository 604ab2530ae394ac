// DeepSeek's conversion pieces: kv_b_proj cut per head (the key rows transposed), and FP8
// weights multiplied by their block scales, each read lazily in the granules they declare.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <numeric>

#include "converters/arch/family.h"
#include "converters/arch/fp8_blocks.h"
#include "converters/arch/head_rows.h"
#include "formats/io/error.h"

namespace owl {
namespace {

using arch::Fp8BlockSource;
using arch::HeadRows;
using arch::HeadRowsSource;

template <typename T>
SourcePtr buffer_of(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return std::make_shared<BufferSource>(std::move(b));
}

template <typename T>
std::vector<T> read_as(const Source& s, uint64_t offset, uint64_t bytes) {
  std::vector<T> out(bytes / sizeof(T));
  s.read(offset, std::as_writable_bytes(std::span<T>(out)));
  return out;
}

TEST_CASE("kv_b's key rows come out transposed per head, the value rows as they are") {
  // 2 heads of 3 key rows and 2 value rows, 4 columns; element = head * 100 + row * 10 + col.
  std::vector<uint16_t> kv_b;
  for (uint16_t h = 0; h < 2; ++h)
    for (uint16_t r = 0; r < 5; ++r)
      for (uint16_t c = 0; c < 4; ++c) kv_b.push_back(h * 100 + r * 10 + c);
  const SourcePtr in = buffer_of(kv_b);
  const HeadRowsSource k(in, HeadRows{2, 5, 4, 0, 3, 2, true});
  const HeadRowsSource v(in, HeadRows{2, 5, 4, 3, 2, 2, false});
  REQUIRE(k.byte_size() == 2 * 3 * 4 * 2);
  REQUIRE(k.granule() == 3 * 4 * 2);
  const auto ks = read_as<uint16_t>(k, 0, k.byte_size());
  for (uint16_t h = 0; h < 2; ++h)
    for (uint16_t c = 0; c < 4; ++c)
      for (uint16_t r = 0; r < 3; ++r) CHECK(ks[(h * 4 + c) * 3 + r] == h * 100 + r * 10 + c);
  const auto vs = read_as<uint16_t>(v, v.granule(), v.granule());  // the second head alone
  for (uint16_t r = 0; r < 2; ++r)
    for (uint16_t c = 0; c < 4; ++c) CHECK(vs[r * 4 + c] == 100 + (3 + r) * 10 + c);
  std::vector<std::byte> half(k.granule() / 2);
  CHECK_THROWS_AS(k.read(0, half), std::out_of_range);
  CHECK_THROWS_AS(HeadRowsSource(in, HeadRows{2, 5, 4, 3, 3, 2, false}), std::invalid_argument);
}

TEST_CASE("E4M3 codes decode by the format's definition") {
  CHECK(arch::e4m3fn_to_f32(0x00) == 0.0f);
  CHECK(arch::e4m3fn_to_f32(0x01) == std::ldexp(1.0f, -9));  // the smallest subnormal
  CHECK(arch::e4m3fn_to_f32(0x08) == std::ldexp(1.0f, -6));  // the smallest normal
  CHECK(arch::e4m3fn_to_f32(0x38) == 1.0f);
  CHECK(arch::e4m3fn_to_f32(0x7e) == 448.0f);
  CHECK(arch::e4m3fn_to_f32(0xfe) == -448.0f);
  CHECK(std::isnan(arch::e4m3fn_to_f32(0x7f)));
  CHECK(std::isnan(arch::e4m3fn_to_f32(0xff)));
  CHECK(std::signbit(arch::e4m3fn_to_f32(0x80)));
}

TEST_CASE("FP8 weights are their codes times the scale of their block, edge blocks cut short") {
  // 3 x 5 codes of 1.0 (0x38) and 2.0 (0x40), in blocks of 2 x 2: scales [2, 3].
  std::vector<uint8_t> codes(15);
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = i % 2 ? 0x40 : 0x38;
  const std::vector<float> scales = {1, 2, 3, 4, 5, 6};
  const Fp8BlockSource s(buffer_of(codes), buffer_of(scales), 3, 5, 2, 2);
  REQUIRE(s.byte_size() == 15 * 4);
  REQUIRE(s.granule() == 5 * 4);
  const auto all = read_as<float>(s, 0, s.byte_size());
  for (size_t r = 0; r < 3; ++r)
    for (size_t c = 0; c < 5; ++c)
      CHECK(all[r * 5 + c] == (codes[r * 5 + c] == 0x40 ? 2.0f : 1.0f) * scales[r / 2 * 3 + c / 2]);
  CHECK(read_as<float>(s, 2 * 20, 20) == std::vector<float>(all.begin() + 10, all.end()));
  CHECK_THROWS_AS(Fp8BlockSource(buffer_of(codes), buffer_of(scales), 3, 5, 2, 1),
                  std::invalid_argument);
}

TEST_CASE("the way back joins attn_k_b and attn_v_b into kv_b_proj's bytes again") {
  // 3 heads of 4 key rows (nope) and 2 value rows, kv_lora 5 columns, cut as the way in cuts.
  constexpr uint64_t kHeads = 3, kNope = 4, kV = 2, kLora = 5;
  std::vector<uint16_t> kv_b;
  for (uint16_t i = 0; i < kHeads * (kNope + kV) * kLora; ++i) kv_b.push_back(i);
  const SourcePtr in = buffer_of(kv_b);
  auto part = [&](const char* name, std::vector<uint64_t> shape, HeadRows rows) {
    return Tensor{name, std::move(shape), ElemType::BF16,
                  std::make_shared<HeadRowsSource>(in, rows)};
  };
  Graph g;
  g.tensors.push_back(part("blk.0.attn_k_b.weight", {kHeads, kLora, kNope},
                           HeadRows{kHeads, kNope + kV, kLora, 0, kNope, 2, true}));
  g.tensors.push_back(part("blk.0.attn_v_b.weight", {kHeads, kV, kLora},
                           HeadRows{kHeads, kNope + kV, kLora, kNope, kV, 2, false}));
  const arch::Family* f = arch::family_for_gguf_back("deepseek2", true);
  REQUIRE(f);
  REQUIRE(f->join_tensors);
  Graph lone = g;
  lone.tensors.pop_back();
  CHECK_THROWS_AS(f->join_tensors(lone), UsageError);
  f->join_tensors(g);
  REQUIRE(g.tensors.size() == 1);
  const Tensor& t = g.tensors[0];
  CHECK(t.name == "blk.0.attn_kv_b.weight");
  CHECK(t.shape == std::vector<uint64_t>{kHeads * (kNope + kV), kLora});
  CHECK(read_as<uint16_t>(*t.data, 0, t.byte_size()) == kv_b);
}

}  // namespace
}  // namespace owl
