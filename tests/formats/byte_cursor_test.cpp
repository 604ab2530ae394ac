#include <catch2/catch.hpp>

#include "formats/io/byte_cursor.h"
#include "formats/io/checked_math.h"

using namespace owl;

TEST_CASE("a byte cursor reads little-endian values and refuses to overrun") {
  const unsigned char raw[] = {1, 0, 0, 0, 2, 0, 'h', 'i'};
  ByteCursor c(std::as_bytes(std::span(raw)), "f.bin");
  CHECK(c.read<uint32_t>("a") == 1);
  CHECK(c.read<uint16_t>("b") == 2);
  CHECK(c.take_string(2, "s") == "hi");
  CHECK(c.at_end());
  CHECK_THROWS_WITH(c.read<uint8_t>("the count"),
                    Catch::Contains("f.bin: truncated: the count needs 1 bytes at byte 8, only 0 remain"));
  CHECK_THROWS_AS(c.take(UINT64_MAX, "huge"), InputError);
}

TEST_CASE("checked arithmetic reports overflow instead of wrapping") {
  CHECK(checked_mul(1ull << 32, 1ull << 31) == (1ull << 63));
  CHECK(!checked_mul(1ull << 32, 1ull << 32));
  CHECK(!checked_add(UINT64_MAX, 1));
  const uint64_t dims[] = {1ull << 40, 1ull << 30};
  CHECK(!checked_product(dims));
  CHECK(checked_product(std::span<const uint64_t>()) == 1);
}
