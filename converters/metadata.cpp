#include "converters/metadata.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

namespace owl {

size_t Array::element_bytes(ValueType elem) {
  switch (elem) {
    case ValueType::U8:
    case ValueType::I8:
    case ValueType::BOOL:
      return 1;
    case ValueType::U16:
    case ValueType::I16:
      return 2;
    case ValueType::U32:
    case ValueType::I32:
    case ValueType::F32:
      return 4;
    case ValueType::U64:
    case ValueType::I64:
    case ValueType::F64:
      return 8;
    default:
      return 0;
  }
}

Array::Array() = default;
Array::Array(ValueType elem) : elem_(elem) {}
Array::Array(const Array&) = default;
Array::Array(Array&&) noexcept = default;
Array& Array::operator=(const Array&) = default;
Array& Array::operator=(Array&&) noexcept = default;
Array::~Array() = default;

Array::Array(ValueType elem, const std::vector<Value>& items) : elem_(elem) {
  reserve(items.size());
  for (const Value& v : items) push_back(v);
}

Array Array::from_bytes(ValueType elem, std::span<const uint8_t> bytes) {
  const size_t width = element_bytes(elem);
  if (width == 0 || bytes.size() % width != 0)
    throw std::invalid_argument("Array::from_bytes: not a whole number of number elements");
  if (elem == ValueType::BOOL)
    for (uint8_t b : bytes)
      if (b > 1) throw std::invalid_argument("Array::from_bytes: a bool other than 0 or 1");
  Array a(elem);
  a.bytes_.assign(bytes.begin(), bytes.end());
  return a;
}

size_t Array::size() const {
  if (elem_ == ValueType::STRING) return strings_.size();
  if (elem_ == ValueType::ARRAY) return arrays_.size();
  return bytes_.size() / element_bytes(elem_);
}

void Array::reserve(size_t n) {
  if (elem_ == ValueType::STRING)
    strings_.reserve(n);
  else if (elem_ == ValueType::ARRAY)
    arrays_.reserve(n);
  else
    bytes_.reserve(n * element_bytes(elem_));
}

namespace {

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
void store(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

}  // namespace

Value scalar_from_bytes(ValueType t, const uint8_t* p) {
  switch (t) {
    case ValueType::U8:
      return Value::u8(*p);
    case ValueType::I8:
      return Value::i8(static_cast<int8_t>(*p));
    case ValueType::BOOL:
      return Value::boolean(*p != 0);
    case ValueType::U16:
      return Value::u16(load<uint16_t>(p));
    case ValueType::I16:
      return Value::i16(load<int16_t>(p));
    case ValueType::U32:
      return Value::u32(load<uint32_t>(p));
    case ValueType::I32:
      return Value::i32(load<int32_t>(p));
    case ValueType::F32:
      return Value::f32(load<float>(p));
    case ValueType::U64:
      return Value::u64(load<uint64_t>(p));
    case ValueType::I64:
      return Value::i64(load<int64_t>(p));
    case ValueType::F64:
      return Value::f64(load<double>(p));
    default:
      throw std::invalid_argument("scalar_from_bytes: " + std::string(value_type_name(t)) +
                                  " is not a number or bool");
  }
}

void append_scalar_bytes(const Value& v, std::vector<uint8_t>& out) {
  switch (v.type()) {
    case ValueType::U8:
      return store<uint8_t>(out, static_cast<uint8_t>(v.as_u64()));
    case ValueType::I8:
      return store<int8_t>(out, static_cast<int8_t>(v.as_i64()));
    case ValueType::BOOL:
      return store<uint8_t>(out, v.as_bool() ? 1 : 0);
    case ValueType::U16:
      return store<uint16_t>(out, static_cast<uint16_t>(v.as_u64()));
    case ValueType::I16:
      return store<int16_t>(out, static_cast<int16_t>(v.as_i64()));
    case ValueType::U32:
      return store<uint32_t>(out, static_cast<uint32_t>(v.as_u64()));
    case ValueType::I32:
      return store<int32_t>(out, static_cast<int32_t>(v.as_i64()));
    case ValueType::F32:
      return store<float>(out, static_cast<float>(v.as_f64()));
    case ValueType::U64:
      return store<uint64_t>(out, v.as_u64());
    case ValueType::I64:
      return store<int64_t>(out, v.as_i64());
    case ValueType::F64:
      return store<double>(out, v.as_f64());
    default:
      throw std::invalid_argument("append_scalar_bytes: a " +
                                  std::string(value_type_name(v.type())) +
                                  " is not a number or bool");
  }
}

Value Array::operator[](size_t i) const {
  if (elem_ == ValueType::STRING) return Value::string(strings_.at(i));
  if (elem_ == ValueType::ARRAY) return arrays_.at(i);
  if (i >= size()) throw std::out_of_range("Array index " + std::to_string(i));
  return scalar_from_bytes(elem_, bytes_.data() + i * element_bytes(elem_));
}

void Array::push_back(const Value& v) {
  if (v.type() != elem_)
    throw std::invalid_argument("Array::push_back: a " + std::string(value_type_name(v.type())) +
                                " into an array of " + std::string(value_type_name(elem_)));
  if (elem_ == ValueType::STRING)
    strings_.push_back(v.as_string());
  else if (elem_ == ValueType::ARRAY)
    arrays_.push_back(v);
  else
    append_scalar_bytes(v, bytes_);
}

bool Array::operator==(const Array& o) const {
  return elem_ == o.elem_ && bytes_ == o.bytes_ && strings_ == o.strings_ && arrays_ == o.arrays_;
}

std::string_view value_type_name(ValueType t) {
  static constexpr std::array<std::string_view, kValueTypeCount> kNames = {
      "u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
      "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < kNames.size() ? kNames[i] : "?";
}

bool Value::is_unsigned() const {
  return type_ == ValueType::U8 || type_ == ValueType::U16 || type_ == ValueType::U32 ||
         type_ == ValueType::U64;
}

bool Value::is_signed() const {
  return type_ == ValueType::I8 || type_ == ValueType::I16 || type_ == ValueType::I32 ||
         type_ == ValueType::I64;
}

std::optional<int64_t> Value::to_int() const {
  if (is_signed()) return as_i64();
  if (is_unsigned() && as_u64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(as_u64());
  return std::nullopt;
}

std::optional<double> Value::to_double() const {
  if (is_float()) return as_f64();
  if (is_signed()) return static_cast<double>(as_i64());
  if (is_unsigned()) return static_cast<double>(as_u64());
  return std::nullopt;
}

namespace {

std::string quote(const std::string& s, size_t max_chars) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max_chars; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max_chars) out += "...";
  return out + "\"";
}

}  // namespace

std::string Value::to_display(size_t max_items) const {
  switch (type_) {
    case ValueType::BOOL:
      return as_bool() ? "true" : "false";
    case ValueType::STRING:
      return quote(as_string(), 120);
    case ValueType::F32:
    case ValueType::F64: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.9g", as_f64());
      return buf;
    }
    case ValueType::ARRAY: {
      const Array& a = as_array();
      std::string out = "[";
      for (size_t i = 0; i < a.size() && i < max_items; ++i) {
        if (i) out += ", ";
        out += a[i].to_display(max_items);
      }
      if (a.size() > max_items) {
        out += ", ... (" + std::to_string(a.size()) + " " + std::string(value_type_name(a.elem())) +
               ")";
      }
      return out + "]";
    }
    default:
      return is_signed() ? std::to_string(as_i64()) : std::to_string(as_u64());
  }
}

void Metadata::set(std::string key, Value value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

const Value* Metadata::find(std::string_view key) const {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

bool Metadata::erase(std::string_view key) {
  auto it = index_.find(std::string(key));
  if (it == index_.end()) return false;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(it->second));
  reindex();
  return true;
}

std::vector<std::pair<std::string, Value>> Metadata::release() {
  index_.clear();
  return std::exchange(entries_, {});
}

void Metadata::reindex() {
  index_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
}

std::optional<std::string> Metadata::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v || v->type() != ValueType::STRING) return std::nullopt;
  return v->as_string();
}

std::optional<int64_t> Metadata::get_int(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->to_int() : std::nullopt;
}

}  // namespace owl
