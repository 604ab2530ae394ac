// The block codecs against ggml itself: tests/data/quant/ggml holds ggml's own quantization and
// dequantization of a fixed input (see make_ggml_vectors.py beside it), and owl must give the
// same bytes. Also the codec table's checked entry points and the lazy dequantizing source.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "converters/source.h"
#include "formats/io/error.h"
#include "formats/io/hash.h"
#include "formats/json/strict_json.h"
#include "quant/codec.h"
#include "quant/dequantize_source.h"
#include "quant/float_codec.h"
#include "quant/quantize_source.h"
#include "tests/test_util.h"

using namespace owl;

namespace {

const std::string kVectors = std::string(OWL_TEST_DATA) + "/quant/ggml";

std::vector<std::byte> file_bytes(const std::string& name) {
  const std::string s = test::read_bytes(kVectors + "/" + name);
  std::vector<std::byte> b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

std::vector<float> input_floats() {
  const auto b = file_bytes("input.f32");
  std::vector<float> x(b.size() / 4);
  std::memcpy(x.data(), b.data(), b.size());
  return x;
}

// The importance weights (one a column of the input's rows) of the weighted vectors.
std::vector<float> imatrix_floats() {
  const auto b = file_bytes("imatrix.f32");
  std::vector<float> w(b.size() / 4);
  std::memcpy(w.data(), b.data(), b.size());
  return w;
}

std::string xxh3_of(std::span<const float> y) {
  Xxh3Hasher h;
  h.update(std::as_bytes(y));
  return h.hex();
}

ElemType type_named(const std::string& name) {
  const auto t = type_from_name(name);
  REQUIRE(t);
  return *t;
}

// "block 12 byte 3: owl 0x1f, ggml 0x2f", or empty when equal.
std::string first_difference(std::span<const std::byte> owl, std::span<const std::byte> ggml,
                             size_t block_bytes) {
  if (owl.size() != ggml.size()) return "sizes differ";
  for (size_t i = 0; i < owl.size(); ++i) {
    if (owl[i] != ggml[i]) {
      return "block " + std::to_string(i / block_bytes) + " byte " +
             std::to_string(i % block_bytes) + ": owl " + std::to_string(static_cast<int>(owl[i])) +
             ", ggml " + std::to_string(static_cast<int>(ggml[i]));
    }
  }
  return "";
}

std::vector<float> dequantized(ElemType t, std::span<const std::byte> blocks) {
  const TypeInfo& info = type_info(t);
  std::vector<float> y(blocks.size() / info.block_bytes * info.block_elems);
  dequantize_row(t, blocks, y);
  return y;
}

std::vector<std::byte> floats_as_bytes(const std::vector<float>& f) {
  std::vector<std::byte> b(f.size() * 4);
  std::memcpy(b.data(), f.data(), b.size());
  return b;
}

}  // namespace

TEST_CASE("every codec quantizes and dequantizes exactly as ggml's reference", "[quant][ggml]") {
  const Json manifest = read_json_file(kVectors + "/manifest.json", 1 << 20);
  const std::vector<float> x = input_floats();
  REQUIRE(x.size() == manifest["elements"].get<size_t>());

  for (const auto& [name, entry] : manifest["types"].items()) {
    DYNAMIC_SECTION(name) {
      const ElemType t = type_named(name);
      const TypeInfo& info = type_info(t);
      if (entry.contains("quantized")) {
        REQUIRE(block_codec(t).quantize_matches_ggml);
        const auto ggml = file_bytes(entry["quantized"].get<std::string>());
        std::vector<std::byte> owl(x.size() / info.block_elems * info.block_bytes);
        quantize_row(t, x, owl);
        INFO(first_difference(owl, ggml, info.block_bytes));
        CHECK(owl == ggml);
        if (entry.contains("dequantized_xxh3_128"))
          CHECK(xxh3_of(dequantized(t, ggml)) == entry["dequantized_xxh3_128"].get<std::string>());
      }
      if (entry.contains("weighted")) {
        REQUIRE(block_codec(t).quantize_matches_ggml);
        REQUIRE(block_codec(t).quantize_weighted);
        const auto ggml = file_bytes(entry["weighted"].get<std::string>());
        std::vector<std::byte> owl(x.size() / info.block_elems * info.block_bytes);
        quantize_row_weighted(t, x, owl, imatrix_floats());
        INFO(first_difference(owl, ggml, info.block_bytes));
        CHECK(owl == ggml);
        CHECK(xxh3_of(dequantized(t, ggml)) ==
              entry["weighted_dequantized_xxh3_128"].get<std::string>());
      }
      if (entry.contains("random")) {
        const auto random = file_bytes(entry["random"].get<std::string>());
        CHECK(xxh3_of(dequantized(t, random)) ==
              entry["random_dequantized_xxh3_128"].get<std::string>());
      }
    }
  }
}

TEST_CASE("every codec has reference vectors from ggml", "[quant][ggml]") {
  const Json manifest = read_json_file(kVectors + "/manifest.json", 1 << 20);
  for (const TypeInfo& info : all_types()) {
    const BlockCodec& codec = block_codec(info.type);
    const std::string name(info.name);
    INFO(name);
    if (codec.quantize_matches_ggml) {
      REQUIRE(manifest["types"].contains(name));
      // Types ggml quantizes only with an importance matrix have weighted vectors alone.
      CHECK(manifest["types"][name].contains(codec.quantize ? "quantized" : "weighted"));
    }
    // ggml has no Q8_1 dequantizer to compare with; the round-trip tests cover owl's.
    if (codec.dequantize && info.type != ElemType::Q8_1) {
      REQUIRE(manifest["types"].contains(name));
      CHECK(manifest["types"][name].contains("random"));
    }
  }
}

TEST_CASE("quantizing rows one at a time gives the bytes of quantizing them together", "[quant]") {
  const std::vector<float> x = input_floats();
  const size_t rows = 4, row = x.size() / rows;
  for (ElemType t : {ElemType::Q4_0, ElemType::Q5_1, ElemType::Q2_K, ElemType::Q6_K}) {
    const TypeInfo& info = type_info(t);
    const size_t row_bytes = row / info.block_elems * info.block_bytes;
    std::vector<std::byte> whole(rows * row_bytes), parts(rows * row_bytes);
    quantize_row(t, x, whole);
    for (size_t r = 0; r < rows; ++r)
      quantize_row(t, std::span(x).subspan(r * row, row),
                   std::span(parts).subspan(r * row_bytes, row_bytes));
    CHECK(whole == parts);
  }
}

TEST_CASE("the codec table names what owl cannot do", "[quant]") {
  CHECK(can_quantize(ElemType::Q4_K));
  CHECK(can_dequantize(ElemType::Q4_K));
  CHECK_FALSE(can_quantize(ElemType::F32));
  CHECK_FALSE(can_dequantize(ElemType::F16));
  CHECK_FALSE(can_quantize(ElemType::IQ2_XXS));

  std::vector<float> x(256, 1.0f);
  std::vector<std::byte> out(66);
  try {
    quantize_row(ElemType::IQ2_XXS, x, out);
    FAIL("no exception");
  } catch (const UsageError& e) {
    CHECK_THAT(e.what(), Catch::Contains("IQ2_XXS"));
  }
  std::vector<float> y(32);
  std::vector<std::byte> in(18);
  CHECK_THROWS_AS(dequantize_row(ElemType::F32, in, y), UsageError);
}

TEST_CASE("quantize_row refuses NaN and infinity and says where", "[quant]") {
  for (const float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
        -std::numeric_limits<float>::infinity()}) {
    for (ElemType t :
         {ElemType::Q4_0, ElemType::Q8_0, ElemType::Q3_K, ElemType::Q4_K, ElemType::Q8_K}) {
      std::vector<float> x(512, 0.25f);
      x[300] = bad;
      std::vector<std::byte> out(512 / type_info(t).block_elems * type_info(t).block_bytes);
      try {
        quantize_row(t, x, out);
        FAIL("no exception");
      } catch (const NonFiniteValue& e) {
        CHECK(e.index() == 300);
        CHECK(std::string(e.what()).find("element 300") != std::string::npos);
      }
    }
  }
}

TEST_CASE("quantize_row and dequantize_row check their sizes", "[quant]") {
  std::vector<float> x(33, 0.0f);
  std::vector<std::byte> out(18);
  CHECK_THROWS_AS(quantize_row(ElemType::Q4_0, x, out), std::invalid_argument);
  std::vector<float> x32(32, 0.0f);
  std::vector<std::byte> short_out(17);
  CHECK_THROWS_AS(quantize_row(ElemType::Q4_0, x32, short_out), std::invalid_argument);
  std::vector<float> y(256);
  std::vector<std::byte> in(143);
  CHECK_THROWS_AS(dequantize_row(ElemType::Q4_K, in, y), std::invalid_argument);
}

TEST_CASE("QuantizeSource names the first non-finite element of the tensor", "[quant]") {
  const uint64_t rows = 40, cols = 256;
  std::vector<float> f(rows * cols, 0.5f);
  f[37 * cols + 11] = std::numeric_limits<float>::quiet_NaN();
  f[39 * cols + 2] = std::numeric_limits<float>::infinity();
  auto input = std::make_shared<BufferSource>(floats_as_bytes(f));
  QuantizeSource q(input, ElemType::F32, ElemType::Q4_K, rows, cols);
  const int saved = omp_get_max_threads();
  for (int threads : {1, 4}) {
    omp_set_num_threads(threads);
    try {
      read_all(q);
      FAIL("no exception");
    } catch (const NonFiniteValue& e) {
      CHECK(e.index() == 37 * cols + 11);
    }
  }
  omp_set_num_threads(saved);
}

TEST_CASE("DequantizeSource gives the codec's floats, rounded once to F16 or BF16", "[quant]") {
  const uint64_t rows = 20, cols = 512;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 0.05f);
  std::vector<float> f(rows * cols);
  for (auto& v : f) v = nd(rng);
  for (ElemType t : {ElemType::Q5_0, ElemType::Q3_K, ElemType::Q5_K}) {
    const uint64_t row_bytes = cols / type_info(t).block_elems * type_info(t).block_bytes;
    std::vector<std::byte> q(rows * row_bytes);
    quantize_row(t, f, q);
    const std::vector<float> expect = dequantized(t, q);
    auto blocks = std::make_shared<BufferSource>(q);

    DequantizeSource as_f32(blocks, t, ElemType::F32, rows, cols);
    CHECK(as_f32.byte_size() == rows * cols * 4);
    CHECK(read_all(as_f32) == floats_as_bytes(expect));

    DequantizeSource as_f16(blocks, t, ElemType::F16, rows, cols);
    const auto h = read_all(as_f16);
    REQUIRE(h.size() == rows * cols * 2);
    for (size_t i = 0; i < expect.size(); i += 97) {
      uint16_t v;
      std::memcpy(&v, h.data() + 2 * i, 2);
      CHECK(v == f32_to_f16(expect[i]));
    }

    // A read of a few rows in the middle gives those rows.
    std::vector<std::byte> part(3 * cols * 4);
    as_f32.read(5 * cols * 4, part);
    CHECK(std::memcmp(part.data(), floats_as_bytes(expect).data() + 5 * cols * 4, part.size()) ==
          0);
  }
}

TEST_CASE("DequantizeSource refuses sizes and types it cannot serve", "[quant]") {
  auto blocks = std::make_shared<BufferSource>(std::vector<std::byte>(144 * 2));
  CHECK_NOTHROW(DequantizeSource(blocks, ElemType::Q4_K, ElemType::F32, 2, 256));
  CHECK_THROWS_AS(DequantizeSource(blocks, ElemType::Q4_K, ElemType::F32, 3, 256),
                  std::invalid_argument);
  CHECK_THROWS_AS(DequantizeSource(blocks, ElemType::Q4_K, ElemType::F32, 1, 300),
                  std::invalid_argument);
  CHECK_THROWS_AS(DequantizeSource(blocks, ElemType::Q4_K, ElemType::Q8_0, 2, 256),
                  std::invalid_argument);
  CHECK_THROWS_AS(DequantizeSource(blocks, ElemType::F8_E4M3, ElemType::F32, 1, 256),
                  std::invalid_argument);
  CHECK_THROWS_AS(DequantizeSource(blocks, ElemType::Q4_K, ElemType::F32, uint64_t{1} << 62, 256),
                  std::invalid_argument);
  // Float inputs are cast.
  auto floats = std::make_shared<BufferSource>(floats_as_bytes({1.5f, -2.0f}));
  DequantizeSource cast(floats, ElemType::F32, ElemType::BF16, 1, 2);
  const auto b = read_all(cast);
  REQUIRE(b.size() == 4);
  uint16_t v;
  std::memcpy(&v, b.data(), 2);
  CHECK(bf16_to_f32(v) == 1.5f);
}

namespace {

// How closely each codec reproduces N(0, 1) weights: the RMS error relative to the RMS weight,
// and the largest error relative to its block's largest magnitude. The legacy bounds follow from
// the formats: half a step (a whole one where the top level is clamped, Q4_0 and Q5_0), plus the
// f16 rounding of the scale and min (2^-11 relative). The k-quant ones are ggml's measured
// behaviour with a margin.
struct RoundTrip {
  ElemType type;
  double rmse;
  double max_error;
};
constexpr RoundTrip kRoundTrips[] = {
    {ElemType::Q4_0, 0.095, 0.129},  {ElemType::Q4_1, 0.085, 0.0683},
    {ElemType::Q5_0, 0.047, 0.0631}, {ElemType::Q5_1, 0.042, 0.0338},
    {ElemType::Q8_0, 0.006, 0.0045}, {ElemType::Q8_1, 0.006, 0.0045},
    {ElemType::Q2_K, 0.32, 0.45},    {ElemType::Q3_K, 0.165, 0.26},
    {ElemType::Q4_K, 0.078, 0.10},   {ElemType::Q5_K, 0.04, 0.065},
    {ElemType::Q6_K, 0.02, 0.02},    {ElemType::Q8_K, 0.0076, 0.0040},
};

std::vector<float> round_trip(ElemType t, const std::vector<float>& x) {
  const TypeInfo& info = type_info(t);
  std::vector<std::byte> q(x.size() / info.block_elems * info.block_bytes);
  quantize_row(t, x, q);
  return dequantized(t, q);
}

// Largest |x - y| over a block, divided by the block's largest |x|.
double worst_block_error(const std::vector<float>& x, const std::vector<float>& y, size_t block) {
  double worst = 0;
  for (size_t b = 0; b < x.size(); b += block) {
    double amax = 0, err = 0;
    for (size_t i = b; i < b + block; ++i) {
      amax = std::max(amax, std::fabs(double{x[i]}));
      err = std::max(err, std::fabs(double{x[i]} - y[i]));
    }
    if (amax > 0) worst = std::max(worst, err / amax);
  }
  return worst;
}

std::vector<float> normal_floats(size_t n, uint32_t seed, float sigma) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0, sigma);
  std::vector<float> x(n);
  for (auto& v : x) v = nd(rng);
  return x;
}

}  // namespace

TEST_CASE("every codec reproduces normal weights within its error bounds", "[quant]") {
  const std::vector<float> x = normal_floats(256 * 64, 11, 1.0f);
  double sum_x2 = 0;
  for (float v : x) sum_x2 += double{v} * v;
  double previous_k_rmse = 1;
  for (const RoundTrip& rt : kRoundTrips) {
    INFO(type_name(rt.type));
    const std::vector<float> y = round_trip(rt.type, x);
    double sum_e2 = 0;
    for (size_t i = 0; i < x.size(); ++i) sum_e2 += (double{x[i]} - y[i]) * (double{x[i]} - y[i]);
    const double rmse = std::sqrt(sum_e2 / sum_x2);
    CHECK(rmse <= rt.rmse);
    CHECK(worst_block_error(x, y, type_info(rt.type).block_elems) <= rt.max_error);
    if (type_info(rt.type).block_elems == 256) {
      CHECK(rmse < previous_k_rmse);  // each extra bit helps
      previous_k_rmse = rmse;
    }
  }
}

TEST_CASE("every codec handles negative-only blocks within its bounds", "[quant]") {
  std::vector<float> x = normal_floats(256 * 16, 12, 1.0f);
  for (auto& v : x) v = -std::fabs(v);
  for (const RoundTrip& rt : kRoundTrips) {
    INFO(type_name(rt.type));
    CHECK(worst_block_error(x, round_trip(rt.type, x), type_info(rt.type).block_elems) <=
          rt.max_error);
  }
}

TEST_CASE("edge blocks: zeros, a constant, one huge outlier, tiny and denormal values", "[quant]") {
  for (const RoundTrip& rt : kRoundTrips) {
    INFO(type_name(rt.type));
    const std::vector<float> zeros(256, 0.0f);
    for (float v : round_trip(rt.type, zeros)) REQUIRE(v == 0.0f);

    const std::vector<float> constant(256, 0.7f);
    for (float v : round_trip(rt.type, constant)) REQUIRE(std::fabs(v - 0.7f) <= 0.7f * 5e-4f);

    std::vector<float> outlier = normal_floats(256, 13, 0.01f);
    outlier[77] = 1000.0f;
    CHECK(std::fabs(round_trip(rt.type, outlier)[77] - 1000.0f) <= 1.0f);

    // Too small for an f16 scale: ggml's formats lose them, but must not turn them into NaN or
    // into anything larger than the block.
    for (const float sigma : {1e-7f, 1e-39f}) {
      const std::vector<float> tiny = normal_floats(256, 14, sigma);
      const std::vector<float> y = round_trip(rt.type, tiny);
      for (size_t i = 0; i < y.size(); ++i) REQUIRE(std::fabs(y[i]) <= 2 * (sigma * 6));
    }
  }
}

TEST_CASE("QuantizeSource gives quantize_row's bytes whatever the thread count", "[quant]") {
  const uint64_t rows = 48, cols = 512;
  const std::vector<float> f = normal_floats(rows * cols, 15, 0.02f);
  auto input = std::make_shared<BufferSource>(floats_as_bytes(f));
  const int saved = omp_get_max_threads();
  for (ElemType t : {ElemType::Q4_K, ElemType::Q6_K, ElemType::IQ4_XS, ElemType::Q5_1}) {
    INFO(type_name(t));
    std::vector<std::byte> expect(rows * cols / type_info(t).block_elems *
                                  type_info(t).block_bytes);
    quantize_row(t, f, expect);
    QuantizeSource q(input, ElemType::F32, t, rows, cols);
    for (int threads : {1, 3, 8}) {
      omp_set_num_threads(threads);
      CHECK(read_all(q) == expect);
    }
  }
  omp_set_num_threads(saved);
}
