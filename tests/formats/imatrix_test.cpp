#include <catch2/catch.hpp>

#include <cstring>

#include "formats/gguf/writer.h"
#include "formats/imatrix/imatrix.h"
#include "formats/io/error.h"
#include "tests/test_util.h"

using namespace owl;

namespace {

// Two entries: one dense matrix of 4 columns, and 2 experts of 2 columns, the second expert
// never reached.
Imatrix sample() {
  Imatrix m;
  m.entries["blk.0.attn_q.weight"] = {{4, 8, 12, 16}, {4}};
  m.entries["blk.0.ffn_up_exps.weight"] = {{6, 9, 0, 0}, {3, 0}};
  m.datasets = {"wiki.txt"};
  m.chunk_count = 2;
  m.chunk_size = 2;
  return m;
}

std::string le32(int32_t v) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &v, 4);
  return s;
}
std::string lef(float v) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &v, 4);
  return s;
}

}  // namespace

TEST_CASE("imatrix GGUF: written and read back, weights as llama-quantize derives them",
          "[imatrix]") {
  test::TempDir dir;
  const auto path = dir.file("imatrix.gguf");
  write_imatrix_gguf(sample(), path);
  const Imatrix m = read_imatrix(path);
  CHECK(m.format == ImatrixFormat::Gguf);
  CHECK(m.has_metadata);
  CHECK(m.datasets == std::vector<std::string>{"wiki.txt"});
  CHECK(m.chunk_count == 2);
  CHECK(m.chunk_size == 2);
  REQUIRE(m.entries.size() == 2);
  CHECK(m.entries.at("blk.0.ffn_up_exps.weight").counts == std::vector<int64_t>{3, 0});
  const auto w = importance_weights(m);
  CHECK(w.at("blk.0.attn_q.weight") == std::vector<float>{1, 2, 3, 4});
  // An expert no token reached weighs every column 1.
  CHECK(w.at("blk.0.ffn_up_exps.weight") == std::vector<float>{2, 3, 1, 1});
}

TEST_CASE("imatrix .dat: written as llama-imatrix writes it, read back", "[imatrix]") {
  test::TempDir dir;
  const auto path = dir.file("imatrix.dat");
  write_imatrix_dat(sample(), path);
  // ncall = ceil(max count / chunk size); values (sum / count) * ncall, 1 * ncall where the
  // count is 0.
  const std::string want = le32(2) + le32(19) + "blk.0.attn_q.weight" + le32(2) + le32(4) + lef(2) +
                           lef(4) + lef(6) + lef(8) + le32(24) + "blk.0.ffn_up_exps.weight" +
                           le32(2) + le32(4) + lef(4) + lef(6) + lef(2) + lef(2) + le32(2) +
                           le32(8) + "wiki.txt";
  CHECK(test::read_bytes(path) == want);
  const Imatrix m = read_imatrix(path);
  CHECK(m.format == ImatrixFormat::Dat);
  CHECK(m.chunk_count == 2);
  CHECK(m.datasets == std::vector<std::string>{"wiki.txt"});
  const auto w = importance_weights(m);
  CHECK(w.at("blk.0.attn_q.weight") == std::vector<float>{1, 2, 3, 4});
  CHECK(w.at("blk.0.ffn_up_exps.weight") == std::vector<float>{2, 3, 1, 1});
}

TEST_CASE("imatrix .dat: the chunk count and dataset are optional", "[imatrix]") {
  test::TempDir dir;
  const auto path = dir.file("old.dat");
  test::write_bytes(path, le32(1) + le32(1) + "w" + le32(0) + le32(1) + lef(5));
  const Imatrix m = read_imatrix(path);
  CHECK(m.chunk_count == 0);
  CHECK(m.datasets.empty());
  // ncall 0: the values as they are.
  CHECK(importance_weights(m).at("w") == std::vector<float>{5});
}

TEST_CASE("imatrix: hostile files get one-line errors naming the file", "[imatrix]") {
  test::TempDir dir;
  const auto path = dir.file("bad.dat");
  const std::string entry = le32(1) + "w" + le32(1) + le32(2) + lef(1) + lef(2);
  const std::pair<std::string, std::string> cases[] = {
      {"", "truncated"},
      {le32(0), "no data"},
      {le32(-1), "number of entries is -1"},
      {le32(1000000), "number of entries is 1000000"},
      {le32(1) + le32(-5) + "w" + std::string(12, 'x'), "name length is -5"},
      {le32(1) + le32(1) + "w" + le32(1) + le32(0x40000000), "number of values"},
      {le32(1) + le32(1) + "w" + le32(1) + le32(2) + lef(1) + "xyz", "number of values is 2"},
      {le32(1) + le32(1) + "w" + le32(1) + le32(1) + lef(NAN), "not finite"},
      {le32(2) + entry + entry, "comes twice"},
      {le32(1) + entry + le32(1) + le32(100) + "abc", "truncated"},
      {le32(1) + entry + le32(1) + le32(3) + "abcXY", "2 bytes follow"},
  };
  for (const auto& [bytes, what] : cases) {
    test::write_bytes(path, bytes);
    INFO(what);
    REQUIRE_THROWS_AS(read_imatrix(path), InputError);
    try {
      read_imatrix(path);
    } catch (const InputError& e) {
      CHECK_THAT(e.what(), Catch::Contains(path) && Catch::Contains(what));
    }
  }
}

namespace {

SourcePtr floats(std::vector<float> v) {
  std::vector<std::byte> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return std::make_shared<BufferSource>(std::move(b));
}

// An imatrix GGUF with llama-imatrix's keys and the tensors given.
// (Each case writes a file of its own: owl never overwrites a file it has read.)
std::string imatrix_gguf(const test::TempDir& dir, std::vector<Tensor> tensors, int n) {
  Graph g;
  g.metadata.set("general.type", Value::string("imatrix"));
  g.metadata.set("imatrix.datasets", Value::array({ValueType::STRING, {Value::string("t")}}));
  g.metadata.set("imatrix.chunk_count", Value::u32(1));
  g.metadata.set("imatrix.chunk_size", Value::u32(512));
  g.tensors = std::move(tensors);
  const auto path = dir.file("bad" + std::to_string(n) + ".gguf");
  gguf::write(g, path);
  return path;
}

}  // namespace

TEST_CASE("imatrix GGUF: sums without counts, uneven rows and bad counts are refused",
          "[imatrix]") {
  test::TempDir dir;
  const std::pair<std::vector<Tensor>, std::string> cases[] = {
      {{{"a.in_sum2", {2}, ElemType::F32, floats({1, 2})}}, "has .in_sum2 without .counts"},
      {{{"a.counts", {1}, ElemType::F32, floats({1})}}, "has .counts without .in_sum2"},
      {{{"a.in_sum2", {3}, ElemType::F32, floats({1, 2, 3})},
        {"a.counts", {2, 1}, ElemType::F32, floats({1, 1})}},
       "3 sums are not 2 whole rows"},
      {{{"a.in_sum2", {2}, ElemType::F32, floats({1, 2})},
        {"a.counts", {1}, ElemType::F32, floats({-3})}},
       "not a token count"},
      {{{"a.in_sum2", {2}, ElemType::F32, floats({1, NAN})},
        {"a.counts", {1}, ElemType::F32, floats({1})}},
       "sum 1 is not finite"},
      {{{"a.in_sum2", {2}, ElemType::I32, floats({1, 2})},
        {"a.counts", {1}, ElemType::F32, floats({1})}},
       "must be F32"},
      {{{"other", {1}, ElemType::F32, floats({1})}}, ""},
  };
  int n = 0;
  for (const auto& [tensors, what] : cases) {
    INFO(what);
    const auto path = imatrix_gguf(dir, tensors, n++);
    if (what.empty()) {
      // Tensors of other names are ignored, as llama.cpp ignores them.
      CHECK(read_imatrix(path).entries.empty());
      continue;
    }
    CHECK_THROWS_WITH(read_imatrix(path), Catch::Contains(path) && Catch::Contains(what));
  }
}
