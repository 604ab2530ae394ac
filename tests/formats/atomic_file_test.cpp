#include <catch2/catch.hpp>

#include "formats/io/atomic_file.h"
#include "tests/test_util.h"

using namespace owl;
using owl::test::TempDir;

TEST_CASE("an atomic file appears only on commit") {
  TempDir dir;
  const auto path = dir.file("out.bin");
  {
    AtomicFile f(path);
    f.write(std::string_view("hello"));
    f.write_zeros(3);
    CHECK(f.bytes_written() == 8);
    auto names = dir.list();
    REQUIRE(names.size() == 1);
    CHECK(names[0] != "out.bin");  // only the hidden temporary exists so far
    f.commit();
  }
  CHECK(dir.list() == std::vector<std::string>{"out.bin"});
  CHECK(owl::test::read_bytes(path) == std::string("hello\0\0\0", 8));
}

TEST_CASE("an uncommitted atomic file is removed and an existing file is untouched") {
  TempDir dir;
  const auto path = dir.file("out.bin");
  owl::test::write_bytes(path, "original");
  {
    AtomicFile f(path);
    f.write(std::string_view("partial"));
  }
  CHECK(dir.list() == std::vector<std::string>{"out.bin"});
  CHECK(owl::test::read_bytes(path) == "original");
}

TEST_CASE("large writes bypass the buffer and keep their order") {
  TempDir dir;
  const auto path = dir.file("big.bin");
  std::string big(3u << 20, 'x');
  {
    AtomicFile f(path);
    f.write(std::string_view("head"));
    f.write(std::string_view(big));
    f.write(std::string_view("tail"));
    f.commit();
  }
  CHECK(owl::test::read_bytes(path) == "head" + big + "tail");
}
