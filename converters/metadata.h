// Ordered, typed key/value metadata with the value types of GGUF.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace owl {

// The numbering is GGUF's, so a GGUF reader and writer can use it as is.
enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
inline constexpr uint32_t kValueTypeCount = 13;

std::string_view value_type_name(ValueType t);

class Value;
struct Array {
  ValueType elem = ValueType::U8;
  std::vector<Value> items;
};
bool operator==(const Array& a, const Array& b);

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

inline bool operator==(const Array& a, const Array& b) {
  return a.elem == b.elem && a.items == b.items;
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

 private:
  void reindex();
  std::vector<std::pair<std::string, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace owl
