#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "formats/hub/cache_layout.h"
#include "formats/hub/repo_info.h"
#include "formats/io/error.h"
#include "tests/test_util.h"

using owl::hub::parse_repo_info;

namespace {

const std::string kCommit = "eb23955e46dc591a5c46154d50c24f22b9641a4f";
const std::string kBlob = "614d173d48f6f8b217283336197f9556a0e2b43f";
const std::string kSha = "c0ffee0000000000000000000000000000000000000000000000000000000001";

std::string answer(const std::string& siblings) {
  return R"({"id":"o/n","sha":")" + kCommit + R"(","siblings":[)" + siblings + "]}";
}

std::string sibling(const std::string& name) {
  return R"({"rfilename":")" + name + R"(","size":3,"blobId":")" + kBlob + R"("})";
}

}  // namespace

TEST_CASE("the Hub's revision answer gives the commit, files and published hashes") {
  const auto info = parse_repo_info(
      answer(sibling("config.json") +
             R"(,{"rfilename":"sub/model.safetensors","size":9,"blobId":")" + kBlob +
             R"(","lfs":{"sha256":")" + kSha + R"(","size":9,"pointerSize":134}})"),
      "api");
  CHECK(info.commit == kCommit);
  REQUIRE(info.files.size() == 2);
  CHECK_FALSE(info.files[0].lfs);
  CHECK(info.files[0].blob_name() == kBlob);
  CHECK(info.files[1].lfs);
  CHECK(info.files[1].blob_name() == kSha);
  CHECK(info.files[1].size == 9);
}

TEST_CASE("a hostile revision answer is refused before anything is written") {
  for (const std::string bad : {"../x", "/etc/passwd", "a/../b", "a//b", "a\\\\b", ".", "", "a/"})
    CHECK_THROWS_AS(parse_repo_info(answer(sibling(bad)), "api"), owl::InputError);
  CHECK_THROWS_AS(parse_repo_info(answer(sibling("a") + "," + sibling("a")), "api"),
                  owl::InputError);
  CHECK_THROWS_AS(parse_repo_info(answer(sibling("a") + "," + sibling("a/b")), "api"),
                  owl::InputError);
  CHECK_THROWS_AS(parse_repo_info(R"({"sha":"HEAD","siblings":[]})", "api"), owl::InputError);
  CHECK_THROWS_AS(
      parse_repo_info(answer(R"({"rfilename":"a","size":-1,"blobId":")" + kBlob + R"("})"), "api"),
      owl::InputError);
  // An LFS size that disagrees with the listed size.
  CHECK_THROWS_AS(parse_repo_info(answer(R"({"rfilename":"a","size":3,"blobId":")" + kBlob +
                                         R"(","lfs":{"sha256":")" + kSha + R"(","size":4}})"),
                                  "api"),
                  owl::InputError);
  CHECK_THROWS_AS(parse_repo_info("[1,2]", "api"), owl::InputError);
}

TEST_CASE("repository ids and revisions are checked before they become paths") {
  CHECK(owl::hub::valid_repo_id("meta-llama/Llama-3.2-1B"));
  CHECK_FALSE(owl::hub::valid_repo_id("llama"));
  CHECK_FALSE(owl::hub::valid_repo_id("../x"));
  CHECK_FALSE(owl::hub::valid_repo_id("a/b/c"));
  CHECK(owl::hub::valid_revision("refs/pr/1"));
  CHECK_FALSE(owl::hub::valid_revision("../../x"));
}

TEST_CASE("snapshot files are relative links into blobs, never through a link") {
  owl::test::TempDir dir;
  const owl::hub::CacheLayout cache(dir.path().string(), "org/name");
  CHECK(cache.repo_dir() == dir.path().string() + "/models--org--name");
  cache.create_blob_dir();
  std::ofstream(cache.blob_path(kBlob)) << "abc";
  cache.link_snapshot_file(kCommit, "sub/dir/f.json", kBlob);
  const std::string link = cache.snapshot_dir(kCommit) + "/sub/dir/f.json";
  CHECK(std::filesystem::read_symlink(link) == "../../../../blobs/" + kBlob);
  std::string text;
  std::ifstream(link) >> text;
  CHECK(text == "abc");
  cache.write_ref("refs/pr/1", kCommit);
  std::ifstream(cache.repo_dir() + "/refs/refs/pr/1") >> text;
  CHECK(text == kCommit);

  // A folder inside the snapshot replaced by a link outside: refused, nothing written there.
  const auto outside = dir.path() / "outside";
  std::filesystem::create_directory(outside);
  std::filesystem::create_directory_symlink(outside, cache.snapshot_dir(kCommit) + "/evil");
  CHECK_THROWS_AS(cache.link_snapshot_file(kCommit, "evil/f.json", kBlob), owl::InputError);
  CHECK(std::filesystem::is_empty(outside));
}
