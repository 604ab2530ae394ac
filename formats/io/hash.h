// xxh3-128 of tensor bytes, streamed.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace owl {

class Xxh3Hasher {
 public:
  Xxh3Hasher();
  ~Xxh3Hasher();
  Xxh3Hasher(const Xxh3Hasher&) = delete;
  Xxh3Hasher& operator=(const Xxh3Hasher&) = delete;

  void update(std::span<const std::byte> bytes);
  // The digest as 32 lowercase hex digits in canonical (big-endian) order, as `xxhsum -H2` prints it.
  std::string hex() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace owl
