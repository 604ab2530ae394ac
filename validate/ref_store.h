// The reference model's logits saved for reuse (`--save-ref`), so validating several
// quantizations of one model runs the reference once: zstd-compressed, xxh3-checked.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace owl::validate {

struct RefHeader {
  uint64_t n_vocab = 0, n_ctx = 0, n_chunks = 0;
  std::string tokens_hash;  // xxh3-128 of the whole token stream, so a mismatched stream is caught
};

// Writes chunk after chunk; the file appears (atomically) only on finish().
class RefWriter {
 public:
  RefWriter(const std::string& path, const RefHeader& h);
  ~RefWriter();
  // The chunk's tokens and the logits of its scored positions, [n_scored, n_vocab].
  void add_chunk(std::span<const int32_t> tokens, std::span<const float> scored_logits);
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a saved reference: the header is checked on open, the payload's checksum once all
// chunks are read.
class RefReader {
 public:
  explicit RefReader(const std::string& path);
  ~RefReader();
  const RefHeader& header() const;
  // Fills the next chunk's tokens and scored logits; sizes must match the header.
  void next_chunk(std::span<int32_t> tokens, std::span<float> scored_logits);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace owl::validate
