// Limits on what a safetensors reader accepts, named so no parse hides a literal.
#pragma once

#include <cstdint>

namespace owl::safetensors {

// The reference implementation refuses headers over 100 MB; so does owl.
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
inline constexpr uint64_t kHeaderLengthBytes = 8;
// The data section starts on this alignment when the reference writes a file.
inline constexpr uint64_t kDataAlignment = 8;
inline constexpr uint64_t kMaxDims = 64;
// An index (model.safetensors.index.json) or config.json larger than this is not plausible.
inline constexpr uint64_t kMaxIndexBytes = 256u << 20;
// Prefix of graph metadata keys that hold a file's __metadata__ entries.
inline constexpr const char* kMetadataPrefix = "safetensors.metadata.";

}  // namespace owl::safetensors
