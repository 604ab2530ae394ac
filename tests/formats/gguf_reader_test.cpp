#include <catch2/catch.hpp>

#include "converters/source.h"
#include "formats/gguf/reader.h"
#include "formats/io/error.h"
#include "tests/formats/gguf_builder.h"
#include "tests/test_util.h"

using namespace owl;
using owl::test::GgufBuilder;

namespace {

std::string read_error(const std::string& bytes) {
  owl::test::TempDir dir;
  const auto path = dir.file("bad.gguf");
  owl::test::write_bytes(path, bytes);
  try {
    gguf::read(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

constexpr uint32_t kF32 = 0, kQ8_0 = 8;
const std::string k64(64, '\x11');

}  // namespace

TEST_CASE("a GGUF file reads with row-major shapes and zero-copy data", "[gguf]") {
  owl::test::TempDir dir;
  const auto path = dir.file("ok.gguf");
  owl::test::write_bytes(path, GgufBuilder()
                                   .kv_string("general.architecture", "llama")
                                   .kv_u32("llama.block_count", 2)
                                   .tensor("a", {4, 2}, kF32, 0)
                                   .tensor("b", {32}, kQ8_0, 32)
                                   .data(std::string(32, 'a') + std::string(34, 'b'))
                                   .bytes());
  Graph g = gguf::read(path);
  CHECK(g.architecture == "llama");
  REQUIRE(g.tensors.size() == 2);
  CHECK(g.tensors[0].shape == std::vector<uint64_t>{2, 4});
  CHECK(g.tensors[1].type == ElemType::Q8_0);
  CHECK(g.tensors[1].byte_size() == 34);
  CHECK(read_all(*g.tensors[1].data)[33] == std::byte{'b'});
  CHECK(g.metadata.get_int("llama.block_count") == 2);
}

TEST_CASE("malformed GGUF files get one clear error each", "[gguf]") {
  using Catch::Contains;
  const std::string u32 = GgufBuilder::u32(7);
  CHECK_THAT(read_error("GGU"), Contains("truncated"));
  CHECK_THAT(read_error(GgufBuilder().magic("GGUX").bytes()), Contains("no GGUF magic"));
  CHECK_THAT(read_error(GgufBuilder().version(1).bytes()), Contains("version 1 is not supported"));
  CHECK_THAT(read_error(GgufBuilder().version(4).bytes()), Contains("version 4 is not supported"));
  CHECK_THAT(read_error(GgufBuilder().version(0x03000000).bytes()), Contains("big-endian"));
  CHECK_THAT(read_error(GgufBuilder().bytes().substr(0, 20)),
             Contains("truncated: metadata count"));
  CHECK_THAT(read_error(GgufBuilder().counts(1ull << 63, 0).bytes()),
             Contains("tensor count 9223372036854775808"));
  CHECK_THAT(read_error(GgufBuilder().counts(0, 1ull << 40).bytes()), Contains("metadata count"));
  CHECK_THAT(read_error(GgufBuilder().kv("k", 8, GgufBuilder::u64(1000) + "short").bytes()),
             Contains("truncated: string value of 'k' needs 1000 bytes"));
  CHECK_THAT(read_error(GgufBuilder().kv("k", 13, u32).bytes()), Contains("unknown value type 13"));
  CHECK_THAT(read_error(GgufBuilder().kv("k", 7, std::string(1, '\x02')).bytes()),
             Contains("bool value 2"));
  CHECK_THAT(
      read_error(
          GgufBuilder().kv("k", 9, GgufBuilder::u32(4) + GgufBuilder::u64(1ull << 40)).bytes()),
      Contains("more than the file can hold"));
  // Arrays of arrays of arrays ...: refused at a fixed depth, not by exhausting the stack.
  std::string bomb;
  for (int i = 0; i < 100; ++i) bomb += GgufBuilder::u32(9) + GgufBuilder::u64(1);
  CHECK_THAT(read_error(GgufBuilder().kv("deep", 9, bomb).bytes()), Contains("nests arrays"));
  CHECK_THAT(read_error(GgufBuilder().kv_u32("k", 1).kv_u32("k", 2).bytes()),
             Contains("'k' appears twice"));
  CHECK_THAT(read_error(GgufBuilder().kv_u32("general.alignment", 24).bytes()),
             Contains("power of two"));
  CHECK_THAT(read_error(GgufBuilder().tensor("t", {4}, 99, 0).data(k64).bytes()),
             Contains("unknown ggml type 99"));
  CHECK_THAT(read_error(GgufBuilder().tensor("t", {1, 1, 1, 1, 1}, kF32, 0).data(k64).bytes()),
             Contains("5 dimensions"));
  CHECK_THAT(read_error(GgufBuilder().tensor("t", {-4}, kF32, 0).data(k64).bytes()),
             Contains("negative dimension"));
  CHECK_THAT(
      read_error(GgufBuilder().tensor("t", {1ll << 40, 1ll << 40}, kF32, 0).data(k64).bytes()),
      Contains("overflows"));
  CHECK_THAT(read_error(GgufBuilder().tensor("t", {33}, kQ8_0, 0).data(k64).bytes()),
             Contains("not a multiple"));
  CHECK_THAT(read_error(GgufBuilder().tensor(std::string(64, 'n'), {4}, kF32, 0).data(k64).bytes()),
             Contains("name of 64 bytes"));
  CHECK_THAT(read_error(GgufBuilder().tensor("t", {4}, kF32, 4).data(k64).bytes()),
             Contains("not a multiple of the alignment 32"));
  CHECK_THAT(read_error(GgufBuilder().tensor("t", {16}, kF32, 32).data(k64).bytes()),
             Contains("runs past the end"));
  CHECK_THAT(
      read_error(
          GgufBuilder().tensor("a", {16}, kF32, 0).tensor("b", {4}, kF32, 32).data(k64).bytes()),
      Contains("'b' overlaps"));
  CHECK_THAT(
      read_error(
          GgufBuilder().tensor("a", {4}, kF32, 0).tensor("a", {4}, kF32, 32).data(k64).bytes()),
      Contains("'a' appears twice"));
}

TEST_CASE("split parts are found from any part and checked against each other", "[gguf]") {
  owl::test::TempDir dir;
  auto part = [&](uint16_t no, const std::string& tensor) {
    return GgufBuilder()
        .kv("split.no", 2, std::string(reinterpret_cast<const char*>(&no), 2))
        .kv("split.count", 2, std::string("\x02\x00", 2))
        .tensor(tensor, {8}, kF32, 0)
        .data(std::string(32, 'x'))
        .bytes();
  };
  owl::test::write_bytes(dir.file("m-00001-of-00002.gguf"), part(0, "a"));
  owl::test::write_bytes(dir.file("m-00002-of-00002.gguf"), part(1, "b"));
  Graph g = gguf::read(dir.file("m-00002-of-00002.gguf"));
  REQUIRE(g.tensors.size() == 2);
  CHECK(g.tensors[1].name == "b");
  CHECK(g.metadata.find("split.count") == nullptr);
  owl::test::write_bytes(dir.file("m-00002-of-00002.gguf"), part(0, "b"));
  CHECK_THROWS_WITH(gguf::read(dir.file("m-00001-of-00002.gguf")),
                    Catch::Contains("expected 2 of 2"));
  std::filesystem::remove(dir.file("m-00002-of-00002.gguf"));
  CHECK_THROWS_WITH(gguf::read(dir.file("m-00001-of-00002.gguf")),
                    Catch::Contains("does not exist"));
}

TEST_CASE("GGUF number arrays are held as their bytes; counts and alignment are bounded",
          "[gguf]") {
  owl::test::TempDir dir;
  const auto path = dir.file("a.gguf");
  const uint32_t kU8 = 0, kArray = 9, kBool = 7;
  const std::string blob(1000, '\x07');
  owl::test::write_bytes(
      path,
      GgufBuilder().kv("a", kArray, GgufBuilder::u32(kU8) + GgufBuilder::u64(1000) + blob).bytes());
  Graph g = gguf::read(path);
  const Array& a = g.metadata.find("a")->as_array();
  CHECK(a.size() == 1000);
  CHECK(a.bytes().size() == 1000);
  CHECK(a[999] == Value::u8(7));

  CHECK_THAT(read_error(GgufBuilder()
                            .kv("a", kArray, GgufBuilder::u32(4) + GgufBuilder::u64(300) + blob)
                            .bytes()),
             Catch::Contains("claims 300 array elements, more than the file can hold"));
  CHECK_THAT(
      read_error(GgufBuilder()
                     .kv("b", kArray, GgufBuilder::u32(kBool) + GgufBuilder::u64(2) + "\x01\x02")
                     .bytes()),
      Catch::Contains("key 'b' has the bool value 2"));
  CHECK_THAT(
      read_error(GgufBuilder().kv_u32("general.alignment", 1u << 31).bytes()),
      Catch::Contains("general.alignment is 2147483648, not a u32 power of two up to 65536"));
  CHECK_THAT(read_error(GgufBuilder().kv_u32("general.alignment", 96).bytes()),
             Catch::Contains("general.alignment is 96"));
}
