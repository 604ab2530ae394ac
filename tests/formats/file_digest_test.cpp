#include "formats/io/file_digest.h"

#include <catch2/catch.hpp>

#include <string>

#include "formats/io/digest.h"
#include "formats/io/error.h"
#include "formats/io/file_digests.h"
#include "tests/test_util.h"

namespace {

// Bytes that differ at every offset, longer than the 16 MiB the hashing maps at a time.
std::string pattern(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 12345;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

}  // namespace

TEST_CASE("a file's SHA-256 across map windows, and of byte ranges", "[digest]") {
  owl::test::TempDir dir;
  const std::string bytes = pattern((size_t{16} << 20) + 4099);
  const std::string path = dir.file("big.bin");
  owl::test::write_bytes(path, bytes);
  CHECK(owl::sha256_file_hex(path) == owl::sha256_hex(std::string_view(bytes)));
  // Ranges that start off a page boundary and end past the first window.
  const size_t start = 4097, end = (size_t{16} << 20) + 10;
  CHECK(owl::sha256_file_hex(path, start, end) ==
        owl::sha256_hex(std::string_view(bytes).substr(start, end - start)));
  CHECK(owl::sha256_file_hex(path, 5, 5) == owl::sha256_hex(std::string_view()));
  CHECK_THROWS_AS(owl::sha256_file_hex(path, 0, bytes.size() + 1), owl::InputError);
}

TEST_CASE("several files hashed at once come back in the order given", "[digest]") {
  owl::test::TempDir dir;
  std::vector<std::string> paths, want;
  for (int i = 0; i < 7; ++i) {
    const std::string bytes = pattern(size_t(1000 * i + 1)) + std::to_string(i);
    paths.push_back(dir.file("f" + std::to_string(i)));
    owl::test::write_bytes(paths.back(), bytes);
    want.push_back(owl::sha256_hex(std::string_view(bytes)));
  }
  owl::FileDigests digests(paths);
  CHECK(digests.wait() == want);
}

TEST_CASE("a file that cannot be hashed is named, the first in order", "[digest]") {
  owl::test::TempDir dir;
  const std::string good = dir.file("good"), gone = dir.file("gone");
  owl::test::write_bytes(good, "x");
  owl::FileDigests digests({good, gone, dir.file("also-gone")});
  try {
    digests.wait();
    FAIL("no error");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find(gone) != std::string::npos);
  }
}
