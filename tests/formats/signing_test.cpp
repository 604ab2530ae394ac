#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "formats/io/base64.h"
#include "formats/io/error.h"
#include "formats/signing/bundle.h"
#include "formats/signing/dsse.h"
#include "formats/signing/manifest.h"
#include "formats/signing/model_signature.h"
#include "formats/signing/statement.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace owl::signing;

namespace {

const std::string kData = OWL_TEST_DATA;
const std::string kModel = kData + "/hf/tiny-llama3";
const std::string kPublicKey = kData + "/signing/test-key.pub.pem";
const std::string kPrivateKey = kData + "/signing/test-key.pem";

std::vector<std::string> names(const std::vector<Resource>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.name);
  return out;
}

}  // namespace

TEST_CASE("base64 round-trips and refuses what is not base64") {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"})
    CHECK(owl::base64_decode(owl::base64_encode(s)) == std::vector<uint8_t>(s.begin(), s.end()));
  CHECK(owl::base64_encode(std::string_view("foobar")) == "Zm9vYmFy");
  CHECK(owl::base64_encode(std::string_view("fo")) == "Zm8=");
  CHECK(owl::base64_decode("Zm8") == std::vector<uint8_t>{'f', 'o'});  // padding optional
  CHECK_FALSE(owl::base64_decode("Zm9=v"));
  CHECK_FALSE(owl::base64_decode("Z"));
  CHECK_FALSE(owl::base64_decode("Zm9!"));
  CHECK_FALSE(owl::base64_decode("Zm9="));  // a dangling set bit
}

TEST_CASE("DSSE's pre-authentication encoding") {
  CHECK(pae(kInTotoPayloadType, "{}") == "DSSEv1 28 application/vnd.in-toto+json 2 {}");
}

TEST_CASE("resources are ordered as model-signing orders them") {
  std::vector<Resource> files = {
      {"a.txt", "sha256", ""}, {"a/b", "sha256", ""}, {"B", "sha256", ""}};
  sort_resources(files);
  CHECK(names(files) == std::vector<std::string>{"B", "a/b", "a.txt"});
  std::vector<Resource> shards = {{"f:10:12", "sha256-sharded-2", ""},
                                  {"f:2:4", "sha256-sharded-2", ""},
                                  {"e.x:0:2", "sha256-sharded-2", ""}};
  sort_resources(shards);
  CHECK(names(shards) == std::vector<std::string>{"e.x:0:2", "f:2:4", "f:10:12"});
}

TEST_CASE("model-signing's signatures of a fixture verify, and owl's own") {
  for (const char* sig : {"tiny-llama3.model_signing.sig", "tiny-llama3.model_signing.shards.sig",
                          "tiny-llama3.owl.sig"}) {
    INFO(sig);
    const Verification v = verify_model(kModel, kData + "/signing/" + sig, {kPublicKey, {}}, {});
    CHECK(v.ok());
    CHECK(v.signed_manifest.resources.size() >= 4);
  }
}

TEST_CASE("a signed folder: the statement round-trips, a changed file is named") {
  const owl::test::TempDir dir;
  const fs::path model = dir.path() / "m";
  fs::create_directories(model / "sub" / "deeper");
  owl::test::write_bytes((model / "sub" / "deeper" / "w.bin").string(), std::string(10000, 'w'));
  owl::test::write_bytes((model / "config.json").string(), "{}");
  owl::test::write_bytes((model / ".gitattributes").string(), "*.bin lfs");

  Serialization s;
  s.method = "shards";
  s.shard_size = 4096;
  s.ignore_paths = git_paths();
  const Signed out = sign_model({model.string(), kPrivateKey, "", {}, s});
  CHECK(names(out.manifest.resources) ==
        std::vector<std::string>{"config.json:0:2", "sub/deeper/w.bin:0:4096",
                                 "sub/deeper/w.bin:4096:8192", "sub/deeper/w.bin:8192:10000"});
  const Manifest back = parse_statement(statement_json(out.manifest), "test");
  CHECK(names(back.resources) == names(out.manifest.resources));
  CHECK(back.serialization.shard_size == 4096);

  const std::string sig = dir.file("m.sig");
  owl::test::write_bytes(sig, out.bundle_json);
  CHECK(verify_model(model.string(), sig, {kPublicKey, {}}, {}).ok());
  owl::test::write_bytes((model / "sub" / "deeper" / "w.bin").string(),
                         std::string(9999, 'w') + "x");
  const Verification v = verify_model(model.string(), sig, {kPublicKey, {}}, {});
  CHECK(v.changed == std::vector<std::string>{"sub/deeper/w.bin:8192:10000"});
}

TEST_CASE("a symbolic link is refused unless allowed, as model-signing does") {
  const owl::test::TempDir dir;
  const fs::path model = dir.path() / "m";
  fs::create_directories(model);
  owl::test::write_bytes(dir.file("blob"), "weights");
  fs::create_symlink(dir.path() / "blob", model / "w.bin");
  Serialization s;
  CHECK_THROWS_AS(hash_model(model.string(), s), owl::InputError);
  s.allow_symlinks = true;
  const Manifest m = hash_model(model.string(), s);
  REQUIRE(m.resources.size() == 1);
  CHECK(m.resources[0].name == "w.bin");
}

TEST_CASE("statements that lie about their resources are refused") {
  const Manifest m = hash_model(kModel, Serialization{});
  std::string text = statement_json(m);
  const size_t at = text.find(m.resources[0].digest);
  text[at] = text[at] == '0' ? '1' : '0';
  CHECK_THROWS_WITH(parse_statement(text, "x.sig"), Catch::Contains("inconsistent manifest"));
  CHECK_THROWS_AS(parse_bundle("{\"mediaType\": 1}", "x.sig"), owl::InputError);
}
