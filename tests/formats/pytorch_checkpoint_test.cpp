#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "converters/source.h"
#include "formats/io/error.h"
#include "formats/open.h"
#include "formats/pytorch/checkpoint.h"
#include "tests/formats/pytorch_builder.h"
#include "tests/test_util.h"

using namespace owl;
using namespace owl::pytorch;
using Catch::Matchers::Contains;
using owl::test::as_bytes;
using owl::test::le_bytes;
using owl::test::legacy_checkpoint;
using owl::test::PickleBuilder;
using owl::test::zip_checkpoint;

namespace {

const std::vector<float> kSix = {0, 1, 2, 3, 4, 5};

// {"w": tensor, "t": its transpose, "s": a slice, "epoch": 3, "name": "run"} over one storage.
std::string state_pickle(bool legacy) {
  PickleBuilder b;
  b.proto().global("collections", "OrderedDict").empty_tuple().reduce().mark();
  b.str("w").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1}, legacy);
  b.str("t").tensor("FloatStorage", "0", 6, 0, {3, 2}, {1, 3}, legacy);
  b.str("s").tensor("FloatStorage", "0", 6, 4, {2}, {1}, legacy);
  b.str("nested").empty_dict().str("x").tensor("FloatStorage", "0", 6, 1, {}, {}, legacy).op('s');
  b.str("epoch").integer(3).str("name").str("run");
  return b.setitems().stop().bytes();
}

std::vector<float> floats(const Tensor& t) {
  const auto bytes = read_all(*t.data);
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

void check_state(const Graph& g) {
  REQUIRE(g.tensors.size() == 4);
  CHECK(g.tensors[0].name == "w");
  CHECK(g.tensors[0].shape == std::vector<uint64_t>{2, 3});
  CHECK(floats(g.tensors[0]) == kSix);
  CHECK(g.tensors[1].name == "t");
  CHECK(floats(g.tensors[1]) == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(floats(g.tensors[2]) == std::vector<float>{4, 5});
  CHECK(g.tensors[3].name == "nested.x");
  CHECK(g.tensors[3].shape.empty());
  CHECK(floats(g.tensors[3]) == std::vector<float>{1});
  CHECK(g.metadata.get_int("pytorch.epoch") == 3);
  CHECK(g.metadata.get_string("pytorch.name") == "run");
}

}  // namespace

TEST_CASE("zip checkpoint: views, shared storage, nesting and metadata", "[pytorch][checkpoint]") {
  const std::string z = zip_checkpoint(state_pickle(false), {{"0", le_bytes(kSix)}});
  const Graph g = parse_zip_checkpoint(as_bytes(z), "m.pt");
  check_state(g);
  // Contiguous tensors are views of the input itself.
  const auto view = g.tensors[0].data->view();
  CHECK(reinterpret_cast<const char*>(view.data()) >= z.data());
  CHECK(reinterpret_cast<const char*>(view.data()) < z.data() + z.size());
  CHECK(g.tensors[1].data->view().empty());  // the transpose is gathered on read
}

TEST_CASE("legacy checkpoint reads the same", "[pytorch][checkpoint]") {
  const std::string l = legacy_checkpoint(state_pickle(true), {{"0", le_bytes(kSix)}}, 4);
  REQUIRE(looks_like_legacy(as_bytes(l)));
  check_state(parse_legacy_checkpoint(as_bytes(l), "m.pt"));
}

TEST_CASE("checkpoint files open by magic bytes, whatever their name", "[pytorch][checkpoint]") {
  test::TempDir dir;
  test::write_bytes(dir.file("weights.data"),
                    zip_checkpoint(state_pickle(false), {{"0", le_bytes(kSix)}}));
  test::write_bytes(dir.file("old.txt"),
                    legacy_checkpoint(state_pickle(true), {{"0", le_bytes(kSix)}}, 4));
  check_state(open_model(dir.file("weights.data")));
  check_state(open_model(dir.file("old.txt")));
  test::write_bytes(dir.file("other.zip"), test::zip_bytes({{"readme.txt", "hi"}}));
  CHECK_THROWS_WITH(open_model(dir.file("other.zip")),
                    Contains("zip archive that is not a PyTorch checkpoint"));
  test::write_bytes(dir.file("plain.pkl"), PickleBuilder().proto().integer(1).stop().bytes());
  CHECK_THROWS_WITH(open_model(dir.file("plain.pkl")),
                    Contains("pickle stream that is not a PyTorch checkpoint"));
}

TEST_CASE("a Hugging Face folder with only pytorch_model.bin reads it", "[pytorch][checkpoint]") {
  test::TempDir dir;
  test::write_bytes(dir.file("pytorch_model.bin"),
                    zip_checkpoint(state_pickle(false), {{"0", le_bytes(kSix)}}));
  test::write_bytes(dir.file("config.json"), R"({"model_type": "llama"})");
  const Graph g = open_model(dir.path().string());
  CHECK(g.architecture == "llama");
  check_state(g);
}

TEST_CASE("hostile checkpoints are refused", "[pytorch][checkpoint]") {
  auto one = [](const std::string& storage_type, int64_t numel, int64_t offset,
                std::vector<int64_t> size, std::vector<int64_t> stride) {
    PickleBuilder b;
    b.proto()
        .empty_dict()
        .str("w")
        .tensor(storage_type, "0", numel, offset, size, stride)
        .op('s')
        .stop();
    return b.bytes();
  };
  auto parse = [](const std::string& pickle, const std::string& data) {
    const std::string z = zip_checkpoint(pickle, {{"0", data}});
    return parse_zip_checkpoint(as_bytes(z), "m.pt");
  };
  const std::string data = le_bytes(kSix);
  SECTION("storage size differs from its record") {
    CHECK_THROWS_WITH(parse(one("FloatStorage", 8, 0, {8}, {1}), data),
                      Contains("but its record holds 24 bytes"));
    CHECK_THROWS_WITH(parse(one("FloatStorage", 4, 0, {4}, {1}), data),
                      Contains("but its record holds 24 bytes"));
    CHECK_THROWS_AS(parse(one("DoubleStorage", 6, 0, {6}, {1}), data), InputError);
  }
  SECTION("view past the end of its storage") {
    CHECK_THROWS_WITH(parse(one("FloatStorage", 6, 4, {4}, {1}), data),
                      Contains("reaches element 7"));
    CHECK_THROWS_WITH(parse(one("FloatStorage", 6, 0, {2, 2}, {1, 5}), data),
                      Contains("reaches element 6"));
    CHECK_THROWS_AS(parse(one("FloatStorage", 6, 0, {2, 2}, {1, int64_t{1} << 62}), data),
                    InputError);
    CHECK_THROWS_AS(parse(one("FloatStorage", 6, -1, {2}, {1}), data), InputError);
    CHECK_THROWS_AS(
        parse(one("FloatStorage", 6, 0, {int64_t{1} << 32, int64_t{1} << 32, 4}, {0, 0, 0}), data),
        InputError);
  }
  SECTION("empty tensors need no storage bytes") {
    const Graph g = parse(one("FloatStorage", 6, 0, {0, 4}, {4, 1}), data);
    CHECK(g.tensors.at(0).byte_size() == 0);
  }
  SECTION("storage key that is not in the archive") {
    PickleBuilder b;
    b.proto()
        .empty_dict()
        .str("w")
        .tensor("FloatStorage", "../../version", 6, 0, {6}, {1})
        .op('s')
        .stop();
    CHECK_THROWS_WITH(parse(b.bytes(), data), Contains("has no record"));
  }
  SECTION("refused global inside a checkpoint") {
    PickleBuilder b;
    b.proto()
        .empty_dict()
        .str("w")
        .global("os", "system")
        .str("true")
        .op(0x85)
        .reduce()
        .op('s')
        .stop();
    CHECK_THROWS_WITH(parse(b.bytes(), data),
                      Contains("refusing to load: the pickle calls os.system"));
    const std::string z = zip_checkpoint(b.bytes(), {});
    const ScanReport r = scan_checkpoint(as_bytes(z), "m.pt");
    CHECK(r.any_refused());
    CHECK(r.globals.at(0).name == "os.system");
  }
  SECTION("no tensors at all") {
    CHECK_THROWS_WITH(parse(PickleBuilder().proto().integer(42).stop().bytes(), data),
                      Contains("no tensors"));
  }
  SECTION("a dict that holds itself") {
    PickleBuilder b;
    b.proto().empty_dict().op('q').byte(0).str("m").op('h').byte(0).op('s').stop();
    CHECK_THROWS_WITH(parse(b.bytes(), data), Contains("levels deep"));
  }
}

TEST_CASE("torch-written fixtures match their expected tensors", "[pytorch][checkpoint]") {
  const std::filesystem::path dir = std::string(OWL_TEST_DATA) + "/pytorch";
  for (const char* name :
       {"dtypes", "views", "shared", "nested", "parameter", "shapes", "module"}) {
    const auto expected_path = dir / (std::string(name) + ".expected.safetensors");
    REQUIRE(std::filesystem::exists(expected_path));
    const Graph expected = open_model(expected_path.string());
    for (const char* fmt : {".zip.pt", ".legacy.pt"}) {
      const Graph got = open_model((dir / (std::string(name) + fmt)).string());
      INFO(name << fmt);
      REQUIRE(got.tensors.size() == expected.tensors.size());
      for (const Tensor& e : expected.tensors) {
        const Tensor* t = got.find(e.name);
        REQUIRE(t);
        CHECK(t->type == e.type);
        CHECK(t->shape == e.shape);
        CHECK(read_all(*t->data) == read_all(*e.data));
      }
    }
  }
}
