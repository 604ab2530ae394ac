// The one way a reader walks untrusted bytes: every read checks what remains.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "formats/io/error.h"

namespace owl {

class ByteCursor {
 public:
  ByteCursor(std::span<const std::byte> bytes, std::string file)
      : bytes_(bytes), file_(std::move(file)) {}

  uint64_t position() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  bool at_end() const { return pos_ == bytes_.size(); }
  const std::string& file() const { return file_; }

  // Reads a little-endian integer or float; `what` names the field in the error.
  template <typename T>
  T read(std::string_view what) {
    static_assert(std::is_arithmetic_v<T>);
    static_assert(std::endian::native == std::endian::little, "owl assumes a little-endian host");
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  // The next `n` bytes as a view; `n` is checked against what remains before any use.
  std::span<const std::byte> take(uint64_t n, std::string_view what) {
    need(n, what);
    auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  std::string_view take_string(uint64_t n, std::string_view what) {
    auto b = take(n, what);
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }

  void skip(uint64_t n, std::string_view what) {
    need(n, what);
    pos_ += n;
  }

  [[noreturn]] void fail(std::string_view what) const {
    throw InputError(file_, std::string(what) + " (at byte " + std::to_string(pos_) + ")");
  }

 private:
  void need(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      throw InputError(file_, "truncated: " + std::string(what) + " needs " + std::to_string(n) +
                                  " bytes at byte " + std::to_string(pos_) + ", only " +
                                  std::to_string(remaining()) + " remain");
    }
  }

  std::span<const std::byte> bytes_;
  std::string file_;
  uint64_t pos_ = 0;
};

}  // namespace owl
