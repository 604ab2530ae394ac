#include "formats/io/hash.h"

#include <xxhash.h>

#include <cstdio>
#include <stdexcept>

namespace owl {

struct Xxh3Hasher::State {
  XXH3_state_t* s = nullptr;
};

Xxh3Hasher::Xxh3Hasher() : state_(std::make_unique<State>()) {
  state_->s = XXH3_createState();
  if (!state_->s) throw std::bad_alloc();
  XXH3_128bits_reset(state_->s);
}

Xxh3Hasher::~Xxh3Hasher() { XXH3_freeState(state_->s); }

void Xxh3Hasher::update(std::span<const std::byte> bytes) {
  XXH3_128bits_update(state_->s, bytes.data(), bytes.size());
}

std::string Xxh3Hasher::hex() const {
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(state_->s));
  std::string out(32, '0');
  static const char* digits = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = digits[canon.digest[i] >> 4];
    out[2 * i + 1] = digits[canon.digest[i] & 15];
  }
  return out;
}

}  // namespace owl
