#include "formats/io/utf8.h"

#include <catch2/catch.hpp>

using namespace owl;

TEST_CASE("well-formed UTF-8 and the forms protobuf refuses") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii"));
  CHECK(is_valid_utf8("\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\x89"));  // é € 🦉
  CHECK_FALSE(is_valid_utf8("\xc3"));                              // cut short
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));                          // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xe0\x80\xaf"));                      // overlong, three bytes
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));                      // a surrogate
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));                  // past U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xff"));
  CHECK(utf8_sequence_length("\xf0\x9f\xa6\x89x") == 4);
}

TEST_CASE("printable escapes what would act on a terminal and keeps the rest") {
  CHECK(printable("blk.0.attn_q.weight") == "blk.0.attn_q.weight");
  CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(printable("\x1b[2J") == "\\x1b[2J");
  CHECK(printable("a\rb\nc\td") == "a\\rb\\nc\\td");
  CHECK(printable("\x7f") == "\\x7f");
  CHECK(printable("\xc2\x9b") == "\\x9b");          // C1 CSI, as UTF-8
  CHECK(printable("\xe2\x80\xae") == "\\u{202e}");  // right-to-left override
  CHECK(printable("\xff\xc3") == "\\xff\\xc3");
  CHECK(printable("back\\slash") == "back\\\\slash");
}
