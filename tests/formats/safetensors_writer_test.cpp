#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "converters/source.h"
#include "formats/io/error.h"
#include "formats/safetensors/reader.h"
#include "formats/safetensors/writer.h"
#include "tests/test_util.h"

using namespace owl;
using owl::test::TempDir;

namespace {

SourcePtr bytes_source(const std::string& s) {
  std::vector<std::byte> b(s.size());
  // An empty vector's data() may be null, which memcpy must not get.
  if (!s.empty()) std::memcpy(b.data(), s.data(), s.size());
  return std::make_shared<BufferSource>(std::move(b));
}

Graph small_graph() {
  Graph g;
  g.metadata.set("safetensors.metadata.format", Value::string("pt"));
  g.metadata.set("hf.config.hidden_size", Value::i64(8));  // not a safetensors key: not written
  g.tensors.push_back({"w", {2, 2}, ElemType::F32, bytes_source(std::string(16, 'w'))});
  g.tensors.push_back({"b", {3}, ElemType::U8, bytes_source("bbb")});
  g.tensors.push_back({"e", {0}, ElemType::F16, bytes_source("")});
  return g;
}

}  // namespace

TEST_CASE("the header is laid out as the reference writes it") {
  Graph g = small_graph();
  std::vector<const Tensor*> ts;
  for (const auto& t : g.tensors) ts.push_back(&t);
  const std::string h = safetensors::make_header(g, ts);
  CHECK(h.rfind(R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                R"("b":{"dtype":"U8","shape":[3],"data_offsets":[16,19]},"e":{"dtype":"F16","shape":[0],"data_offsets":[19,19]}})",
                0) == 0);
  CHECK(h.size() % 8 == 0);
  CHECK(h.find_first_not_of(' ', h.rfind('}') + 1) == std::string::npos);
}

TEST_CASE("write then read gives back every tensor and metadata entry") {
  TempDir dir;
  const auto path = dir.file("out.safetensors");
  Graph g = small_graph();
  auto files = safetensors::write(g, path);
  REQUIRE(files == std::vector<std::string>{path});
  Graph back = safetensors::read_file(path);
  REQUIRE(back.tensors.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(back.tensors[i].name == g.tensors[i].name);
    CHECK(back.tensors[i].shape == g.tensors[i].shape);
    CHECK(back.tensors[i].type == g.tensors[i].type);
    CHECK(read_all(*back.tensors[i].data) == read_all(*g.tensors[i].data));
  }
  CHECK(back.metadata.get_string("safetensors.metadata.format") == "pt");
  CHECK(back.metadata.find("hf.config.hidden_size") == nullptr);
  CHECK(dir.list() == std::vector<std::string>{"out.safetensors"});
}

TEST_CASE("sharded output has an index naming every tensor's shard") {
  TempDir dir;
  const auto path = dir.file("model.safetensors");
  Graph g = small_graph();
  safetensors::WriteOptions opt;
  opt.shard_bytes = 16;
  auto files = safetensors::write(g, path, opt);
  CHECK(dir.list() == std::vector<std::string>{"model-00001-of-00002.safetensors",
                                               "model-00002-of-00002.safetensors",
                                               "model.safetensors.index.json"});
  Graph back = safetensors::read_index(dir.file("model.safetensors.index.json"));
  REQUIRE(back.tensors.size() == 3);
  CHECK(back.tensors[0].name == "w");
  CHECK(back.tensors[2].name == "e");
}

TEST_CASE("a failed write leaves nothing behind") {
  TempDir dir;
  Graph g = small_graph();
  g.tensors.push_back({"q", {32}, ElemType::Q4_0, bytes_source(std::string(18, 'q'))});
  CHECK_THROWS_AS(safetensors::write(g, dir.file("out.safetensors")), UsageError);
  CHECK(dir.list().empty());
}
