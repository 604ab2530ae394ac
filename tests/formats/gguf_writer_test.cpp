#include <catch2/catch.hpp>

#include <cstring>

#include "converters/source.h"
#include "formats/gguf/reader.h"
#include "formats/gguf/writer.h"
#include "formats/io/error.h"
#include "tests/test_util.h"

using namespace owl;

namespace {

SourcePtr filled(size_t n, char c) {
  std::vector<std::byte> b(n, static_cast<std::byte>(c));
  return std::make_shared<BufferSource>(std::move(b));
}

Graph sample() {
  Graph g;
  g.metadata.set("general.architecture", Value::string("llama"));
  g.metadata.set("u8", Value::u8(200));
  g.metadata.set("i8", Value::i8(-100));
  g.metadata.set("u16", Value::u16(60000));
  g.metadata.set("i16", Value::i16(-30000));
  g.metadata.set("u32", Value::u32(4000000000u));
  g.metadata.set("i32", Value::i32(-2000000000));
  g.metadata.set("u64", Value::u64(UINT64_MAX));
  g.metadata.set("i64", Value::i64(INT64_MIN));
  g.metadata.set("f32", Value::f32(1e-5f));
  g.metadata.set("f64", Value::f64(0.1));
  g.metadata.set("bool", Value::boolean(true));
  g.metadata.set("strings", Value::array({ValueType::STRING, {Value::string("a"), Value::string("")}}));
  g.tensors.push_back({"w", {3, 32}, ElemType::Q8_0, filled(3 * 34, 'q')});
  g.tensors.push_back({"n", {5}, ElemType::F32, filled(20, 'n')});
  return g;
}

}  // namespace

TEST_CASE("written GGUF reads back with every value and byte", "[gguf]") {
  owl::test::TempDir dir;
  Graph g = sample();
  gguf::write(g, dir.file("m.gguf"));
  Graph back = gguf::read(dir.file("m.gguf"));
  // Every entry comes back with its type, and nothing is added.
  REQUIRE(back.metadata.size() == g.metadata.size());
  for (size_t i = 0; i < g.metadata.size(); ++i) {
    CHECK(back.metadata.entries()[i].first == g.metadata.entries()[i].first);
    CHECK(back.metadata.entries()[i].second == g.metadata.entries()[i].second);
  }
  REQUIRE(back.tensors.size() == 2);
  CHECK(back.tensors[0].shape == g.tensors[0].shape);
  CHECK(read_all(*back.tensors[0].data) == read_all(*g.tensors[0].data));
  CHECK(read_all(*back.tensors[1].data) == read_all(*g.tensors[1].data));
  // Data are packed on the alignment: the file ends with the last tensor padded to 32.
  CHECK(std::filesystem::file_size(dir.file("m.gguf")) % 32 == 0);
}

TEST_CASE("GGUF split output follows gguf-split and reads back whole", "[gguf]") {
  owl::test::TempDir dir;
  Graph g = sample();
  gguf::WriteOptions opt;
  opt.split_max_tensors = 1;
  auto files = gguf::write(g, dir.file("m.gguf"), opt);
  CHECK(dir.list() == std::vector<std::string>{"m-00001-of-00002.gguf", "m-00002-of-00002.gguf"});
  Graph back = gguf::read(files[0]);
  CHECK(back.tensors.size() == 2);
  CHECK(back.metadata.find("split.no") == nullptr);
  CHECK(back.metadata.get_string("general.architecture") == "llama");
}

TEST_CASE("GGUF parts given tensor by tensor, a first part of metadata only included", "[gguf]") {
  owl::test::TempDir dir;
  Graph g = sample();
  gguf::WriteOptions opt;
  opt.part_sizes = {0, 1, 1};
  auto files = gguf::write(g, dir.file("m.gguf"), opt);
  CHECK(files.size() == 3);
  CHECK(gguf::read(files[0]).tensors.size() == 2);
  opt.part_sizes = {1};
  CHECK_THROWS(gguf::write(g, dir.file("n.gguf"), opt));
  CHECK(!std::filesystem::exists(dir.file("n.gguf")));
}

TEST_CASE("the GGUF writer refuses what ggml cannot load, before writing anything", "[gguf]") {
  owl::test::TempDir dir;
  using Catch::Contains;
  Graph g = sample();
  g.tensors[1].name = std::string(64, 'x');
  CHECK_THROWS_WITH(gguf::write(g, dir.file("a.gguf")), Contains("longer than GGUF's 63 bytes"));
  g = sample();
  g.tensors.push_back({"f8", {4}, ElemType::F8_E4M3, filled(4, 'f')});
  CHECK_THROWS_WITH(gguf::write(g, dir.file("a.gguf")), Contains("GGUF cannot store"));
  g = sample();
  g.tensors.push_back({"five", {1, 1, 1, 1, 1}, ElemType::F32, filled(4, 'f')});
  CHECK_THROWS_WITH(gguf::write(g, dir.file("a.gguf")), Contains("GGUF allows 4"));
  g = sample();
  g.metadata.set("nested", Value::array({ValueType::ARRAY, {Value::array({ValueType::I32, {}})}}));
  CHECK_THROWS_WITH(gguf::write(g, dir.file("a.gguf")), Contains("nested arrays"));
  CHECK(dir.list().empty());
}
