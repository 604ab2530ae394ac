// Ordered, typed key/value metadata with the value types of GGUF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace owl {

// The numbering is GGUF's, so a GGUF reader and writer can use it as is.
enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
inline constexpr uint32_t kValueTypeCount = 13;

std::string_view value_type_name(ValueType t);

class Value;

// An array of one element type. Numbers and bools are held as their little-endian bytes, as GGUF
// stores them, so an array costs in memory what it weighs in the file; strings and nested arrays
// are held one by one.
class Array {
 public:
  // Defined where Value is complete: the vector of nested arrays needs it.
  Array();
  explicit Array(ValueType elem);
  Array(ValueType elem, const std::vector<Value>& items);
  Array(const Array&);
  Array(Array&&) noexcept;
  Array& operator=(const Array&);
  Array& operator=(Array&&) noexcept;
  ~Array();
  // Numbers or bools from `bytes` (a whole number of elements; bools must be 0 or 1).
  static Array from_bytes(ValueType elem, std::span<const uint8_t> bytes);
  // Bytes per element for number and bool types; 0 for strings and arrays.
  static size_t element_bytes(ValueType elem);

  ValueType elem() const { return elem_; }
  size_t size() const;
  bool empty() const { return size() == 0; }
  Value operator[](size_t i) const;
  const std::string& string_at(size_t i) const { return strings_.at(i); }
  // The elements' bytes, for number and bool arrays.
  std::span<const uint8_t> bytes() const { return bytes_; }

  // `v` must have the array's element type.
  void push_back(const Value& v);
  void reserve(size_t n);

  class Iterator;
  Iterator begin() const;
  Iterator end() const;

  bool operator==(const Array& o) const;

 private:
  ValueType elem_ = ValueType::U8;
  std::vector<uint8_t> bytes_;
  std::vector<std::string> strings_;
  std::vector<Value> arrays_;
};

// One metadata value. Integers keep their declared width in `type`; the payload is held in
// the widest type of its kind so a value round-trips exactly.
class Value {
 public:
  Value() : type_(ValueType::BOOL), v_(false) {}
  static Value u8(uint8_t x) { return Value(ValueType::U8, uint64_t{x}); }
  static Value i8(int8_t x) { return Value(ValueType::I8, int64_t{x}); }
  static Value u16(uint16_t x) { return Value(ValueType::U16, uint64_t{x}); }
  static Value i16(int16_t x) { return Value(ValueType::I16, int64_t{x}); }
  static Value u32(uint32_t x) { return Value(ValueType::U32, uint64_t{x}); }
  static Value i32(int32_t x) { return Value(ValueType::I32, int64_t{x}); }
  static Value u64(uint64_t x) { return Value(ValueType::U64, x); }
  static Value i64(int64_t x) { return Value(ValueType::I64, x); }
  static Value f32(float x) { return Value(ValueType::F32, double{x}); }
  static Value f64(double x) { return Value(ValueType::F64, x); }
  static Value boolean(bool x) { return Value(ValueType::BOOL, x); }
  static Value string(std::string x) { return Value(ValueType::STRING, std::move(x)); }
  static Value array(Array a) { return Value(ValueType::ARRAY, std::move(a)); }

  ValueType type() const { return type_; }
  bool is_unsigned() const;
  bool is_signed() const;
  bool is_float() const { return type_ == ValueType::F32 || type_ == ValueType::F64; }
  bool is_integer() const { return is_unsigned() || is_signed(); }

  uint64_t as_u64() const { return std::get<uint64_t>(v_); }
  int64_t as_i64() const { return std::get<int64_t>(v_); }
  double as_f64() const { return std::get<double>(v_); }
  bool as_bool() const { return std::get<bool>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }

  // Any integer type as int64, if it fits.
  std::optional<int64_t> to_int() const;
  // Any number as a double.
  std::optional<double> to_double() const;

  // A short human-readable rendering; long arrays are abbreviated.
  std::string to_display(size_t max_items = 8) const;

  bool operator==(const Value& o) const = default;

 private:
  using Payload = std::variant<bool, uint64_t, int64_t, double, std::string, Array>;
  Value(ValueType t, Payload v) : type_(t), v_(std::move(v)) {}
  ValueType type_;
  Payload v_;
};

// Numbers and bools as GGUF stores them (and Array holds them): little-endian, in their
// declared width. `p` holds Array::element_bytes(t) bytes; a bool byte other than 0 reads true.
Value scalar_from_bytes(ValueType t, const uint8_t* p);
// Appends the bytes of a number or bool `v`.
void append_scalar_bytes(const Value& v, std::vector<uint8_t>& out);

// Yields each element as a Value.
class Array::Iterator {
 public:
  using value_type = Value;
  using difference_type = std::ptrdiff_t;
  Iterator(const Array* a, size_t i) : a_(a), i_(i) {}
  Value operator*() const { return (*a_)[i_]; }
  Iterator& operator++() {
    ++i_;
    return *this;
  }
  bool operator==(const Iterator& o) const { return i_ == o.i_; }

 private:
  const Array* a_;
  size_t i_;
};
inline Array::Iterator Array::begin() const {
  return {this, 0};
}
inline Array::Iterator Array::end() const {
  return {this, size()};
}

// Keys keep their insertion order; setting an existing key replaces it in place.
class Metadata {
 public:
  void set(std::string key, Value value);
  const Value* find(std::string_view key) const;
  bool erase(std::string_view key);
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;

  // Moves every entry out, in order, leaving the store empty.
  std::vector<std::pair<std::string, Value>> release();

 private:
  void reindex();
  std::vector<std::pair<std::string, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace owl
