#include <catch2/catch.hpp>

#include "formats/io/error.h"
#include "formats/pytorch/unpickler.h"
#include "tests/formats/pytorch_builder.h"

using namespace owl;
using namespace owl::pytorch;
using Catch::Matchers::Contains;
using owl::test::as_bytes;
using owl::test::PickleBuilder;

namespace {
Pickle run(const std::string& bytes, UnpickleMode mode = UnpickleMode::Strict) {
  return unpickle(as_bytes(bytes), "t.pkl", mode);
}
}  // namespace

TEST_CASE("unpickler builds dicts, lists, tuples and scalars", "[pytorch][unpickler]") {
  PickleBuilder b;
  b.proto().empty_dict().op('q').byte(0).mark();
  b.str("n").integer(-5).str("big").integer(int64_t{1} << 40).str("t").op(0x88);
  b.str("f").op('G').raw(std::string("\x3f\xf8\x00\x00\x00\x00\x00\x00", 8));  // 1.5, big-endian
  b.str("l").op(']').mark().integer(1).integer(2).op('e');
  b.str("tup").integer(7).integer(8).op(0x86);
  b.str("n").integer(6);  // a repeated key replaces the first, as in Python
  b.setitems().stop();
  const Pickle p = run(b.bytes());
  REQUIRE(p.root->kind == Object::Kind::Dict);
  REQUIRE(p.root->entries.size() == 6);
  CHECK(p.root->entries[0].second->integer == 6);
  CHECK(p.root->entries[1].second->integer == (int64_t{1} << 40));
  CHECK(p.root->entries[2].second->boolean);
  CHECK(p.root->entries[3].second->real == 1.5);
  CHECK(p.root->entries[4].second->items.size() == 2);
  CHECK(p.root->entries[5].second->kind == Object::Kind::Tuple);
  CHECK(p.end_offset == b.bytes().size());
}

TEST_CASE("LONG1 is two's complement and long values stay exact bytes", "[pytorch][unpickler]") {
  const Pickle neg =
      run(PickleBuilder().proto().op(0x8a).byte(2).raw(std::string("\x00\xff", 2)).stop().bytes());
  CHECK(neg.root->integer == -256);
  const Pickle big =
      run(PickleBuilder().proto().op(0x8a).byte(10).raw("0123456789").stop().bytes());
  CHECK(big.root->kind == Object::Kind::BigInt);
  CHECK(big.root->text == "0123456789");
}

TEST_CASE("a global outside the allow-list stops the read, naming it", "[pytorch][unpickler]") {
  // {'w': [1, posix.system('touch x')]}: the call is hidden in a nested container.
  PickleBuilder b;
  b.proto().empty_dict().str("w").op(']').mark().integer(1);
  b.global("posix", "system").str("touch /tmp/owl-never").op(0x85).reduce();
  b.op('e').op('s').stop();
  CHECK_THROWS_WITH(run(b.bytes()), Contains("refusing to load: the pickle calls posix.system"));
  // STACK_GLOBAL names are refused the same way.
  PickleBuilder s;
  s.proto(4).str("builtins").str("eval").op(0x93).str("1").op(0x85).reduce().stop();
  CHECK_THROWS_WITH(run(s.bytes()), Contains("the pickle calls builtins.eval"));
  // INST calls a global from text lines.
  PickleBuilder i;
  i.proto().mark().str("id").op('i').raw("subprocess\nPopen\n").stop();
  CHECK_THROWS_WITH(run(i.bytes()), Contains("subprocess.Popen"));
}

TEST_CASE("scan mode records every global and builds nothing", "[pytorch][unpickler]") {
  PickleBuilder b;
  b.proto().empty_dict().mark();
  b.str("a")
      .global("builtins", "getattr")
      .global("builtins", "__import__")
      .str("os")
      .op(0x85)
      .reduce();
  b.str("system").op(0x86).reduce();
  b.str("b").global("collections", "OrderedDict").empty_tuple().reduce();
  b.setitems().stop();
  const Pickle p = run(b.bytes(), UnpickleMode::Scan);
  REQUIRE(p.globals.size() == 3);
  CHECK(p.globals[0].name == "builtins.getattr");
  CHECK(p.globals[0].kind == GlobalKind::Refused);
  CHECK(p.globals[1].name == "builtins.__import__");
  CHECK(p.globals[2].kind == GlobalKind::OrderedDict);
  CHECK(p.any_refused());
}

TEST_CASE("hostile pickles are errors, not crashes", "[pytorch][unpickler]") {
  SECTION("truncated") {
    const std::string full = PickleBuilder().proto().str("hello").stop().bytes();
    for (size_t n = 0; n < full.size(); ++n) CHECK_THROWS_AS(run(full.substr(0, n)), InputError);
  }
  SECTION("memo index never stored") {
    CHECK_THROWS_WITH(run(PickleBuilder().proto().op('j').u32(0xFFFFFFF0).stop().bytes()),
                      Contains("memo index 4294967280 was never stored"));
  }
  SECTION("memo index beyond the limit") {
    CHECK_THROWS_WITH(
        run(PickleBuilder().proto().empty_dict().op('r').u32(0xFFFFFFFF).stop().bytes()),
        Contains("exceeds the limit"));
  }
  SECTION("deep MARK nesting") {
    PickleBuilder b;
    b.proto();
    for (uint64_t i = 0; i <= kMaxPickleMarks; ++i) b.mark();
    CHECK_THROWS_WITH(run(b.bytes()), Contains("MARK"));
  }
  SECTION("string longer than the stream") {
    CHECK_THROWS_WITH(run(PickleBuilder().proto().op('X').u32(1000).raw("ab").bytes()),
                      Contains("truncated"));
  }
  SECTION("stack underflow and unknown opcodes") {
    CHECK_THROWS_AS(run(PickleBuilder().proto().op('s').stop().bytes()), InputError);
    CHECK_THROWS_WITH(run(PickleBuilder().proto().op(0xff).bytes()),
                      Contains("unknown pickle opcode 0xff"));
    CHECK_THROWS_AS(run(PickleBuilder().proto().stop().bytes()),
                    InputError);  // STOP on an empty stack
    CHECK_THROWS_WITH(run(PickleBuilder().proto().op(0x82).byte(1).stop().bytes()),
                      Contains("extension registry"));
  }
  SECTION("a list that holds itself is built without recursion") {
    const Pickle p =
        run(PickleBuilder().proto().op(']').op('q').byte(0).op('h').byte(0).op('a').stop().bytes());
    CHECK(p.root->items.at(0) == p.root);
  }
}

TEST_CASE("protocol 0 text opcodes", "[pytorch][unpickler]") {
  const Pickle p = run("(lp0\nI12\naS'a\\x41\\n'\naF2.5\naI01\na.");
  REQUIRE(p.root->kind == Object::Kind::List);
  REQUIRE(p.root->items.size() == 4);
  CHECK(p.root->items[0]->integer == 12);
  CHECK(p.root->items[1]->text == "aA\n");
  CHECK(p.root->items[2]->real == 2.5);
  CHECK(p.root->items[3]->kind == Object::Kind::Bool);
}

TEST_CASE("scan mode keeps the globals before a break and says where it broke",
          "[pytorch][unpickler]") {
  // os.system("id") is reduced (Python would run it), then a byte that is no opcode.
  PickleBuilder b;
  b.proto().global("os", "system").str("id").op(0x85).reduce().op(0xff);
  const Pickle p = run(b.bytes(), UnpickleMode::Scan);
  REQUIRE(p.globals.size() == 1);
  CHECK(p.globals[0].name == "os.system");
  CHECK(p.root == nullptr);
  CHECK_THAT(p.broken, Contains("unknown pickle opcode 0xff"));
  CHECK_THROWS_WITH(run(b.bytes()), Contains("os.system"));  // strict mode still refuses
}
