#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "formats/io/error.h"
#include "quant/codec.h"
#include "quant/driver.h"
#include "quant/float_codec.h"
#include "quant/read_ahead.h"

using namespace owl;
using T = ElemType;

namespace {

std::vector<float> normal_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 0.02f);
  std::vector<float> x(n);
  for (auto& v : x) v = d(rng);
  return x;
}

std::vector<std::byte> bytes_of(const std::vector<float>& x, ElemType type) {
  std::vector<std::byte> out(x.size() * type_info(type).block_bytes);
  cast_elements(T::F32, std::as_bytes(std::span(x)), type, out, x.size());
  return out;
}

// A source with no view, as a permutation or a cast over another source is: the driver must read
// it into a buffer.
class NoView final : public Source {
 public:
  explicit NoView(std::vector<std::byte> b) : inner_(std::move(b)) {}
  uint64_t byte_size() const override { return inner_.byte_size(); }
  void read(uint64_t offset, std::span<std::byte> out) const override { inner_.read(offset, out); }

 private:
  BufferSource inner_;
};

Tensor float_tensor(std::string name, uint64_t rows, uint64_t cols, ElemType type, uint32_t seed,
                    bool view = true) {
  auto bytes = bytes_of(normal_floats(rows * cols, seed), type);
  SourcePtr src = view ? SourcePtr(std::make_shared<BufferSource>(std::move(bytes)))
                       : SourcePtr(std::make_shared<NoView>(std::move(bytes)));
  return {std::move(name), {rows, cols}, type, src};
}

// A small Llama-like graph mixing inputs with and without views, F32, F16 and BF16.
Graph model() {
  Graph g;
  g.format = "gguf";
  g.metadata.set("general.architecture", Value::string("llama"));
  g.metadata.set("llama.block_count", Value::u32(2));
  g.tensors.push_back(float_tensor("token_embd.weight", 300, 512, T::F16, 1));
  for (int i = 0; i < 2; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    g.tensors.push_back(float_tensor(b + "attn_norm.weight", 1, 512, T::F32, 2));
    g.tensors.back().shape = {512};
    g.tensors.push_back(float_tensor(b + "attn_v.weight", 128, 512, T::BF16, 3 + i, false));
    g.tensors.push_back(float_tensor(b + "ffn_down.weight", 512, 768, T::F32, 5 + i));
    g.tensors.push_back(float_tensor(b + "ffn_up.weight", 768, 512, T::F16, 7 + i, false));
  }
  g.tensors.push_back(float_tensor("output.weight", 300, 512, T::F16, 9));
  return g;
}

std::vector<ElemType> own_types(const Graph& g) {
  std::vector<ElemType> t;
  for (const auto& x : g.tensors) t.push_back(x.type);
  return t;
}

// Every tensor's bytes as a writer pulls them: in order, in chunks, releasing as it goes.
std::vector<std::vector<std::byte>> pull(const Graph& g, uint64_t chunk_bytes) {
  std::vector<std::vector<std::byte>> out;
  for (const auto& t : g.tensors) {
    auto& bytes = out.emplace_back();
    for_each_chunk(
        *t.data,
        [&](std::span<const std::byte> c) { bytes.insert(bytes.end(), c.begin(), c.end()); },
        chunk_bytes);
    t.data->release();
  }
  return out;
}

std::vector<std::vector<std::byte>> quantized_with(const char* mix, int threads,
                                                   uint64_t chunk_bytes = 1 << 20) {
  Graph g = model();
  PlanOptions o;
  o.mix = find_mix(mix);
  const Plan plan = make_plan(g, own_types(g), o, "m.gguf");
  check_plan(plan);
  apply_plan(g, plan, {threads, "m.gguf"});
  for (size_t i = 0; i < g.tensors.size(); ++i) CHECK(g.tensors[i].type == plan.tensors[i].to);
  return pull(g, chunk_bytes);
}

}  // namespace

TEST_CASE("the driver's bytes do not depend on the thread count or the chunk size", "[driver]") {
  for (const char* mix : {"Q4_K_M", "Q5_0", "F16", "BF16"}) {
    INFO(mix);
    const auto one = quantized_with(mix, 1);
    CHECK(quantized_with(mix, 2) == one);
    CHECK(quantized_with(mix, 5, 1000) == one);
  }
}

TEST_CASE("the driver quantizes each row as the codec does", "[driver]") {
  const Graph input = model();
  const auto got = quantized_with("Q4_K_M", 3);
  // blk.1.ffn_down (F32, Q6_K under Q4_K_M) and blk.0.ffn_up (F16 without a view, Q4_K).
  for (const auto& [index, type] : {std::pair{7, T::Q6_K}, std::pair{4, T::Q4_K}}) {
    const Tensor& t = input.tensors[static_cast<size_t>(index)];
    const auto raw = read_all(*t.data);
    std::vector<float> x(t.elements());
    cast_elements(t.type, raw, T::F32, std::as_writable_bytes(std::span(x)), x.size());
    std::vector<std::byte> want(*bytes_for_elements(type, x.size()));
    quantize_row(type, x, want);
    CHECK(got[static_cast<size_t>(index)] == want);
  }
  // Kept tensors are the input's bytes.
  CHECK(got[1] == read_all(*input.tensors[1].data));
}

TEST_CASE("requantizing dequantizes each row first", "[driver]") {
  const auto x = normal_floats(4 * 256, 11);
  std::vector<std::byte> q8(*bytes_for_elements(T::Q8_0, x.size()));
  quantize_row(T::Q8_0, x, q8);
  Graph g;
  g.format = "gguf";
  g.tensors.push_back(
      {"blk.0.ffn_up.weight", {4, 256}, T::Q8_0, std::make_shared<BufferSource>(q8)});
  PlanOptions o;
  o.mix = find_mix("Q4_0");
  o.allow_requantize = true;
  const Plan plan = make_plan(g, own_types(g), o, "m.gguf");
  check_plan(plan);
  apply_plan(g, plan, {2, "m.gguf"});
  std::vector<float> y(x.size());
  dequantize_row(T::Q8_0, q8, y);
  std::vector<std::byte> want(*bytes_for_elements(T::Q4_0, y.size()));
  quantize_row(T::Q4_0, y, want);
  CHECK(read_all(*g.tensors[0].data) == want);
}

TEST_CASE("a NaN, an infinity or an F16 overflow is an error naming the tensor and the element",
          "[driver]") {
  auto run = [](float bad, const char* mix) {
    auto x = normal_floats(8 * 64, 3);
    x[3 * 64 + 5] = bad;
    Graph g;
    g.format = "gguf";
    g.tensors.push_back({"blk.0.attn_q.weight",
                         {8, 64},
                         T::F32,
                         std::make_shared<BufferSource>(bytes_of(x, T::F32))});
    PlanOptions o;
    o.mix = find_mix(mix);
    const Plan plan = make_plan(g, own_types(g), o, "m.gguf");
    apply_plan(g, plan, {4, "m.gguf"});
    read_all(*g.tensors[0].data);
  };
  CHECK_THROWS_WITH(run(std::nanf(""), "Q8_0"),
                    Catch::Contains("m.gguf") && Catch::Contains("blk.0.attn_q.weight") &&
                        Catch::Contains("element 197 (row 3, column 5) is NaN"));
  CHECK_THROWS_WITH(run(-INFINITY, "Q4_0"), Catch::Contains("-inf"));
  CHECK_THROWS_AS(run(INFINITY, "BF16"), InputError);
  CHECK_THROWS_WITH(run(1e6f, "F16"), Catch::Contains("too large for F16"));
  CHECK_NOTHROW(run(1e6f, "F32"));
}

TEST_CASE("tensors may be pulled out of order", "[driver]") {
  Graph g = model();
  PlanOptions o;
  o.mix = find_mix("Q8_0");
  const Plan plan = make_plan(g, own_types(g), o, "m.gguf");
  apply_plan(g, plan, {2, "m.gguf"});
  const auto last = read_all(*g.tensors.back().data);
  const auto first = read_all(*g.tensors.front().data);
  const auto in_order = quantized_with("Q8_0", 2);
  CHECK(first == in_order.front());
  CHECK(last == in_order.back());
}

namespace {

// Fails every read: the error must reach the consumer, not the background thread.
class Broken final : public Source {
 public:
  uint64_t byte_size() const override { return 64; }
  void read(uint64_t, std::span<std::byte>) const override {
    throw std::runtime_error("disk on fire");
  }
};

// Records what the read-ahead did with it: whether a background load began, what was released.
class Recorder final : public Source {
 public:
  explicit Recorder(std::vector<std::byte> bytes) : bytes_(std::move(bytes)) {}
  uint64_t byte_size() const override { return bytes_.size(); }
  void read(uint64_t offset, std::span<std::byte> out) const override {
    std::copy_n(bytes_.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
  }
  std::span<const std::byte> view() const override {
    viewed = true;
    return bytes_;
  }
  void release_range(uint64_t offset, uint64_t length) const override {
    released.push_back({offset, length});
  }

  mutable std::atomic<bool> viewed{false};
  mutable std::vector<std::pair<uint64_t, uint64_t>> released;

 private:
  std::vector<std::byte> bytes_;
};

std::vector<std::byte> iota_bytes(size_t n) {
  std::vector<std::byte> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>(i * 7);
  return b;
}

}  // namespace

TEST_CASE("reading ahead gives the rows asked for, guessed or not", "[driver]") {
  const auto a = iota_bytes(10 * 16), b = iota_bytes(6 * 16);
  ReadAhead ahead({{std::make_shared<BufferSource>(a), 10, 16, 4},
                   {std::make_shared<NoView>(b), 6, 16, 4},
                   {std::make_shared<Broken>(), 4, 16, 4}});
  auto rows = [&](size_t input, uint64_t first, uint64_t count) {
    const auto r = ahead.take(input, first, count);
    return std::vector<std::byte>(r.bytes.begin(), r.bytes.end());
  };
  auto slice = [](const std::vector<std::byte>& v, uint64_t first, uint64_t count) {
    return std::vector<std::byte>(v.begin() + first * 16, v.begin() + (first + count) * 16);
  };
  CHECK(rows(0, 0, 4) == slice(a, 0, 4));
  CHECK(rows(0, 4, 4) == slice(a, 4, 4));  // guessed
  CHECK(rows(0, 8, 2) == slice(a, 8, 2));  // guessed, the short last read
  CHECK(rows(1, 0, 3) == slice(b, 0, 3));  // guessed 4 rows: read now instead
  CHECK(rows(1, 3, 3) == slice(b, 3, 3));
  CHECK_THROWS_WITH(rows(2, 0, 4), "disk on fire");  // the guess failed in the background
  CHECK(rows(0, 1, 1) == slice(a, 1, 1));            // out of order
  CHECK_THROWS_WITH(rows(2, 0, 4), "disk on fire");
}

TEST_CASE("a guess at an input the consumer skips is released", "[driver]") {
  // Under MPI each rank takes only its own tensors: the guess at the next one in file order
  // brought in pages that no stream would ever release (690 MB of 2.2 GB on two ranks).
  const auto a = iota_bytes(4 * 16);
  auto skipped = std::make_shared<Recorder>(iota_bytes(8 * 16));
  ReadAhead ahead({{std::make_shared<BufferSource>(a), 4, 16, 4},
                   {skipped, 8, 16, 4},
                   {std::make_shared<BufferSource>(a), 4, 16, 4}});
  ahead.take(0, 0, 4);  // done with input 0: guesses input 1's first four rows
  for (int i = 0; i < 5000 && !skipped->viewed; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  REQUIRE(skipped->viewed);  // the guess is loading or loaded
  const auto r = ahead.take(2, 0, 4);
  CHECK(std::vector<std::byte>(r.bytes.begin(), r.bytes.end()) == a);
  CHECK(skipped->released == std::vector<std::pair<uint64_t, uint64_t>>{{0, 64}});
}
