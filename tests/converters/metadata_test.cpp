#include <catch2/catch.hpp>
#include <cmath>

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

TEST_CASE("number arrays are held as their bytes and read back as typed values") {
  Array a(ValueType::I16);
  a.push_back(Value::i16(-2));
  a.push_back(Value::i16(300));
  CHECK(a.size() == 2);
  CHECK(a.bytes().size() == 4);
  CHECK(a[0] == Value::i16(-2));
  CHECK(a[1].as_i64() == 300);
  CHECK_THROWS_AS(a.push_back(Value::i32(1)), std::invalid_argument);
  CHECK_THROWS_AS(a[2], std::out_of_range);

  const float f[] = {1.5f, -0.0f};
  const Array b =
      Array::from_bytes(ValueType::F32, {reinterpret_cast<const uint8_t*>(f), sizeof f});
  CHECK(b.size() == 2);
  CHECK(b[0] == Value::f32(1.5f));
  CHECK(std::signbit(b[1].as_f64()));
  const uint8_t bools[] = {0, 1, 2};
  CHECK_THROWS_AS(Array::from_bytes(ValueType::BOOL, bools), std::invalid_argument);
  CHECK_THROWS_AS(Array::from_bytes(ValueType::U32, {bools, 3}), std::invalid_argument);

  size_t n = 0;
  for (const Value& v : b) n += v.type() == ValueType::F32;
  CHECK(n == 2);
  CHECK(Array(ValueType::U8, {Value::u8(1)}) == Array(ValueType::U8, {Value::u8(1)}));
  CHECK_FALSE(Array(ValueType::U8, {Value::u8(1)}) == Array(ValueType::I8, {Value::i8(1)}));
}

TEST_CASE(
    "number arrays are packed in the protobuf description, strings that are not UTF-8 are bytes") {
  auto p = to_proto(Value::array({ValueType::U8, {Value::u8(7), Value::u8(255)}}));
  CHECK(p.array_value().items_size() == 0);
  REQUIRE(p.array_value().ints_size() == 2);
  CHECK(p.array_value().ints(1) == 255);
  auto u = to_proto(Value::array({ValueType::U64, {Value::u64(UINT64_MAX)}}));
  CHECK(u.array_value().uints(0) == UINT64_MAX);
  auto f = to_proto(Value::array({ValueType::F32, {Value::f32(0.5f)}}));
  CHECK(f.array_value().floats(0) == 0.5);
  auto b = to_proto(Value::array({ValueType::BOOL, {Value::boolean(true)}}));
  CHECK(b.array_value().bools(0));
  auto s = to_proto(Value::string("ok\xff"));
  CHECK(s.string_value().empty());
  CHECK(s.bytes_value() == "ok\xff");
}
