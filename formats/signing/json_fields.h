// Typed access to the fields of a parsed (hostile) JSON document: each failure is one InputError
// naming the file and the field's path ("dsseEnvelope.signatures[0].sig").
#pragma once

#include <string>
#include <string_view>

#include "formats/io/error.h"
#include "formats/json/strict_json.h"

namespace owl::signing {

class JsonFields {
 public:
  explicit JsonFields(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw InputError(file_, where.empty() ? what : where + " " + what);
  }

  const Json& object(const Json& j, const std::string& where) const {
    if (!j.is_object()) fail(where, "is " + json_kind(j) + ", not an object");
    return j;
  }
  const Json& array(const Json& j, const std::string& where, size_t max_items) const {
    if (!j.is_array()) fail(where, "is " + json_kind(j) + ", not an array");
    if (j.size() > max_items)
      fail(where, "has " + std::to_string(j.size()) + " items, more than the limit of " +
                      std::to_string(max_items));
    return j;
  }
  const std::string& string(const Json& j, const std::string& where) const {
    if (!j.is_string()) fail(where, "is " + json_kind(j) + ", not a string");
    return j.get_ref<const std::string&>();
  }
  bool boolean(const Json& j, const std::string& where) const {
    if (!j.is_boolean()) fail(where, "is " + json_kind(j) + ", not true or false");
    return j.get<bool>();
  }

  // The member `key` of object `j` (at `where`); absent is an error.
  const Json& member(const Json& j, std::string_view key, const std::string& where) const {
    const Json* m = find(j, key, where);
    if (!m) fail(join(where, key), "is missing");
    return *m;
  }
  const Json* find(const Json& j, std::string_view key, const std::string& where) const {
    object(j, where);
    const auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
  }

  static std::string join(const std::string& where, std::string_view key) {
    return where.empty() ? std::string(key) : where + "." + std::string(key);
  }
  static std::string at(const std::string& where, size_t i) {
    return where + "[" + std::to_string(i) + "]";
  }

 private:
  std::string file_;
};

}  // namespace owl::signing
