#include "formats/io/read_files.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "formats/io/atomic_file.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "tests/test_util.h"

using namespace owl;
using owl::test::TempDir;
namespace fs = std::filesystem;

TEST_CASE("a file that was read is known by identity, under any name") {
  TempDir dir;
  const auto path = dir.path() / "in.bin";
  { std::ofstream(path) << "bytes"; }
  const auto link = dir.path() / "hard-link.bin";
  fs::create_hard_link(path, link);
  const auto sym = dir.path() / "sym-link.bin";
  fs::create_symlink(path, sym);
  const auto other = dir.path() / "other.bin";
  { std::ofstream(other) << "bytes"; }

  CHECK_FALSE(was_read(path.string()));
  auto m = MappedFile::open(path.string());
  CHECK(was_read(path.string()));
  CHECK(was_read(link.string()));
  CHECK(was_read(sym.string()));
  CHECK_FALSE(was_read(other.string()));
  CHECK_FALSE(was_read((dir.path() / "absent").string()));
  CHECK_THROWS_AS(AtomicFile(link.string()), UsageError);
  CHECK_NOTHROW(AtomicFile(other.string()));
}
