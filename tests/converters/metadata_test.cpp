#include <catch2/catch.hpp>

#include "converters/describe.h"
#include "converters/metadata.h"

using namespace owl;

TEST_CASE("metadata keeps insertion order and replaces in place") {
  Metadata m;
  m.set("b", Value::u32(1));
  m.set("a", Value::string("x"));
  m.set("b", Value::f32(2.5f));
  REQUIRE(m.size() == 2);
  CHECK(m.entries()[0].first == "b");
  CHECK(m.entries()[0].second.type() == ValueType::F32);
  CHECK(m.entries()[0].second.as_f64() == 2.5);
  CHECK(m.get_string("a") == "x");
  CHECK(m.erase("b"));
  CHECK(m.find("b") == nullptr);
  CHECK(m.get_string("a") == "x");
}

TEST_CASE("values keep their GGUF type and convert only when they fit") {
  CHECK(Value::i8(-3).to_int() == -3);
  CHECK(Value::u64(UINT64_MAX).to_int() == std::nullopt);
  CHECK(Value::u16(7).to_double() == 7.0);
  CHECK(Value::string("s").to_int() == std::nullopt);
  Array nested{ValueType::ARRAY, {Value::array({ValueType::I32, {Value::i32(1), Value::i32(2)}})}};
  Value v = Value::array(nested);
  CHECK(v == Value::array(nested));
  CHECK(v.to_display() == "[[1, 2]]");
}

TEST_CASE("metadata values map onto the protobuf description") {
  auto p = to_proto(Value::array({ValueType::STRING, {Value::string("a"), Value::string("b")}}));
  CHECK(p.type() == "array");
  CHECK(p.array_value().elem_type() == "string");
  CHECK(p.array_value().items(1).string_value() == "b");
  CHECK(to_proto(Value::i32(-5)).int_value() == -5);
  CHECK(to_proto(Value::u64(5)).uint_value() == 5);
  CHECK(to_proto(Value::boolean(true)).bool_value());
}
