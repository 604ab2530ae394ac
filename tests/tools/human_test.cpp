#include <catch2/catch.hpp>

#include "tools/human.h"

using namespace owl;

TEST_CASE("sizes parse with decimal and binary units") {
  CHECK(parse_size("5GB") == 5'000'000'000ull);
  CHECK(parse_size("500mb") == 500'000'000ull);
  CHECK(parse_size("2GiB") == (2ull << 30));
  CHECK(parse_size("123") == 123u);
  CHECK(parse_size("2G") == 2'000'000'000ull);  // gguf-split's spelling
  CHECK(parse_size("500M") == 500'000'000ull);
  CHECK(!parse_size("GB"));
  CHECK(!parse_size("5 parsecs"));
  CHECK(!parse_size("99999999999999TB"));
}

TEST_CASE("numbers print for people") {
  CHECK(human_bytes(999) == "999 B");
  CHECK(human_bytes(2'200'000'000) == "2.20 GB");
  CHECK(with_commas(1100048384) == "1,100,048,384");
  CHECK(human_count(260'000) == "260.00 K");
  CHECK(human_duration(3723) == "1:02:03");
}
