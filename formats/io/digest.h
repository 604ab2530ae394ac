// Cryptographic digests (SHA-256, SHA-1) of streamed bytes, through OpenSSL. The hashes the
// Hugging Face Hub publishes (SHA-256 of LFS files, git's SHA-1 of blobs), provenance records and
// model signatures all use these; xxh3 (hash.h) stays the fast check of tensor bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace owl {

enum class DigestKind { sha256, sha1 };

class Digest {
 public:
  explicit Digest(DigestKind kind = DigestKind::sha256);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;

  void update(std::span<const std::byte> bytes);
  void update(std::string_view text);
  // Ends the stream: the digest's bytes (32 for SHA-256, 20 for SHA-1). Further calls to
  // update() start nothing new; call finish() once.
  std::vector<std::uint8_t> finish();
  // finish() as lowercase hex, as sha256sum and the Hub print it.
  std::string finish_hex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string to_hex(std::span<const std::uint8_t> bytes);

// One-shot helpers for small inputs.
std::string sha256_hex(std::span<const std::byte> bytes);
std::string sha256_hex(std::string_view text);

}  // namespace owl
