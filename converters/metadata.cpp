#include "converters/metadata.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <limits>

namespace owl {

std::string_view value_type_name(ValueType t) {
  static constexpr std::array<std::string_view, kValueTypeCount> kNames = {
      "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
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
      for (size_t i = 0; i < a.items.size() && i < max_items; ++i) {
        if (i) out += ", ";
        out += a.items[i].to_display(max_items);
      }
      if (a.items.size() > max_items) {
        out += ", ... (" + std::to_string(a.items.size()) + " " +
               std::string(value_type_name(a.elem)) + ")";
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
