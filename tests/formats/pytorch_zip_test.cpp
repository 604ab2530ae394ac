#include <catch2/catch.hpp>

#include <cstring>

#include "formats/io/error.h"
#include "formats/pytorch/zip_archive.h"
#include "tests/formats/pytorch_builder.h"

using namespace owl;
using namespace owl::pytorch;
using Catch::Matchers::Contains;
using owl::test::as_bytes;
using owl::test::zip_bytes;

namespace {
const std::vector<std::pair<std::string, std::string>> kEntries = {{"a/data.pkl", "pickle"},
                                                                   {"a/data/0", "0123456789"}};

void poke32(std::string& s, size_t at, uint32_t v) {
  std::memcpy(s.data() + at, &v, 4);
}
void poke16(std::string& s, size_t at, uint16_t v) {
  std::memcpy(s.data() + at, &v, 2);
}
size_t central(const std::string& z) {
  return z.find("PK\x01\x02");
}
}  // namespace

TEST_CASE("zip reader finds stored entries zero-copy", "[pytorch][zip]") {
  for (bool zip64 : {false, true}) {
    for (bool descriptor : {false, true}) {
      const std::string z = zip_bytes(kEntries, {zip64, descriptor});
      const auto zip = ZipArchive::parse(as_bytes(z), "t.zip");
      REQUIRE(zip.entries().size() == 2);
      const ZipEntry* e = zip.find("a/data/0");
      REQUIRE(e);
      const auto data = zip.data(*e);
      CHECK(std::string(reinterpret_cast<const char*>(data.data()), data.size()) == "0123456789");
      CHECK(reinterpret_cast<const char*>(data.data()) == z.data() + z.find("0123456789"));
      zip.verify_crc(*e);
    }
  }
}

TEST_CASE("zip reader refuses malformed archives", "[pytorch][zip]") {
  const std::string good = zip_bytes(kEntries);
  auto parse = [](const std::string& z) { return ZipArchive::parse(as_bytes(z), "t.zip"); };

  SECTION("truncated anywhere") {
    for (size_t n = 0; n < good.size(); ++n) CHECK_THROWS_AS(parse(good.substr(0, n)), InputError);
  }
  SECTION("central directory offset past the end") {
    std::string z = good;
    poke32(z, z.size() - 6, 1u << 30);
    CHECK_THROWS_WITH(parse(z), Contains("central directory"));
  }
  SECTION("compressed entry") {
    std::string z = good;
    poke16(z, central(z) + 10, 8);
    CHECK_THROWS_WITH(parse(z), Contains("compressed"));
  }
  SECTION("entry size beyond the archive") {
    std::string z = zip_bytes(kEntries, {false, true});  // local sizes deferred to the directory
    const size_t second = z.find("PK\x01\x02", central(z) + 4);
    poke32(z, second + 20, 1u << 31);
    poke32(z, second + 24, 1u << 31);
    CHECK_THROWS_WITH(parse(z), Contains("run past"));
  }
  SECTION("overlapping entries") {
    std::string z = zip_bytes({{"a/x", "abcdefgh"}, {"a/y", "12345678"}});
    // Point the second entry's header at the first one: names then disagree.
    const size_t second = z.find("PK\x01\x02", central(z) + 4);
    poke32(z, second + 42, 0);
    CHECK_THROWS_AS(parse(z), InputError);
  }
  SECTION("local header disagrees with the directory") {
    std::string z = good;
    poke32(z, 18, 3);  // the first local header's compressed size
    CHECK_THROWS_WITH(parse(z), Contains("disagree"));
  }
  SECTION("duplicate names") {
    CHECK_THROWS_WITH(parse(zip_bytes({{"a/x", "1"}, {"a/x", "2"}})),
                      Contains("two entries named"));
  }
  SECTION("zip64 record missing") {
    std::string z = zip_bytes(kEntries, {true, false});
    const size_t loc = z.find("PK\x06\x07");
    z[loc + 2] = 9;  // break the locator signature
    CHECK_THROWS_WITH(parse(z), Contains("zip64"));
  }
  SECTION("zip64 extra field missing when the sizes defer to it") {
    std::string z = good;
    poke32(z, central(z) + 20, 0xFFFFFFFF);
    poke32(z, central(z) + 24, 0xFFFFFFFF);
    CHECK_THROWS_WITH(parse(z), Contains("zip64 extra field"));
  }
  SECTION("corrupt data fails the CRC check") {
    std::string z = good;
    z[z.find("0123456789")] = 'X';
    const auto zip = parse(z);
    CHECK_THROWS_WITH(zip.verify_crc(*zip.find("a/data/0")), Contains("CRC"));
  }
}
