#include "formats/io/digest.h"

#include <catch2/catch.hpp>

#include <string>

using owl::Digest;
using owl::DigestKind;

TEST_CASE("SHA-256 matches the FIPS 180-2 test vectors") {
  CHECK(owl::sha256_hex(std::string_view("")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(owl::sha256_hex(std::string_view("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("a digest fed in pieces equals the one-shot digest") {
  std::string text(100000, 'a');
  Digest d;
  for (std::size_t i = 0; i < text.size(); i += 777)
    d.update(std::string_view(text).substr(i, 777));
  CHECK(d.finish_hex() == owl::sha256_hex(std::string_view(text)));
}

TEST_CASE("SHA-1 of a git blob header and body is git's object id") {
  // `printf 'hello\n' | git hash-object --stdin`
  Digest d(DigestKind::sha1);
  d.update(std::string_view("blob 6"));
  d.update(std::string_view("\0", 1));
  d.update(std::string_view("hello\n"));
  CHECK(d.finish_hex() == "ce013625030ba8dba906f756967f9e9ca394464a");
}

TEST_CASE("a digest cannot be finished twice") {
  Digest d;
  d.finish();
  CHECK_THROWS(d.finish());
  CHECK_THROWS(d.update(std::string_view("x")));
}
