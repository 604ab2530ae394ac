#include <catch2/catch.hpp>

#include <cstring>

#include "converters/source.h"
#include "formats/io/error.h"
#include "formats/llama2c/reader.h"
#include "formats/open.h"
#include "tests/test_util.h"

using namespace owl;

namespace {
const std::string kModel = std::string(OWL_TEST_DATA) + "/stories260K/stories260K.bin";

float float_at(const std::string& bytes, uint64_t offset) {
  float f;
  std::memcpy(&f, bytes.data() + offset, 4);
  return f;
}
}  // namespace

TEST_CASE("the bundled llama2.c model reads as a Llama graph with canonical names") {
  Graph g = open_model(kModel);
  CHECK(g.format == "llama2c");
  CHECK(g.architecture == "llama");
  REQUIRE(g.tensors.size() == 2 + 5 * 9);  // embedding, final norm, nine per layer; shared classifier
  CHECK(g.tensors.front().name == "token_embd.weight");
  CHECK(g.tensors.front().shape == std::vector<uint64_t>{512, 64});
  CHECK(g.find("blk.4.attn_k.weight")->shape == std::vector<uint64_t>{32, 64});
  CHECK(g.find("blk.2.ffn_down.weight")->shape == std::vector<uint64_t>{64, 172});
  CHECK(g.find("output.weight") == nullptr);
  CHECK(g.metadata.get_int("llama2c.n_kv_heads") == 4);

  // The last layer's w3 ends where rms_final begins: after it come rms_final (64 floats) and
  // freq_cis (512 x 4 x 2 floats).
  const std::string bytes = owl::test::read_bytes(kModel);
  const uint64_t rms_final_at = bytes.size() - 4 * (64 + 512 * 8);
  auto up = read_all(*g.find("blk.4.ffn_up.weight")->data);
  float last;
  std::memcpy(&last, up.data() + up.size() - 4, 4);
  CHECK(last == float_at(bytes, rms_final_at - 4));
  auto norm = read_all(*g.find("output_norm.weight")->data);
  CHECK(std::memcmp(norm.data(), bytes.data() + rms_final_at, 256) == 0);
}

TEST_CASE("a truncated or inconsistent llama2.c file is refused") {
  owl::test::TempDir dir;
  const std::string bytes = owl::test::read_bytes(kModel);
  owl::test::write_bytes(dir.file("cut.bin"), bytes.substr(0, bytes.size() - 4));
  CHECK_THROWS_WITH(open_model(dir.file("cut.bin")), Catch::Contains("not a format owl recognises"));
  CHECK_THROWS_WITH(llama2c::read_file(dir.file("cut.bin")), Catch::Contains("implies a file of"));
  std::string bad = bytes;
  const int32_t zero_heads = 0;
  std::memcpy(bad.data() + 12, &zero_heads, 4);
  owl::test::write_bytes(dir.file("bad.bin"), bad);
  CHECK_THROWS_WITH(llama2c::read_file(dir.file("bad.bin")), Catch::Contains("n_heads 0 is out of range"));
}
