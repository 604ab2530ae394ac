// SHA-256 (or xxh3) of a file, or of a byte range of one, read in large chunks (never mapped
// whole): what model signatures and bills of materials record for every file of a model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace owl {

// Lowercase hex SHA-256 of bytes [start, end) of the file at `path`; without `end`, to the end of
// the file. Throws InputError when a range runs past the end (the file shrank).
std::string sha256_file_hex(const std::string& path, uint64_t start = 0,
                            std::optional<uint64_t> end = std::nullopt);

// Lowercase hex xxh3-128 of bytes [start, end) of the file at `path` (as Xxh3Hasher prints it):
// the check of tensor bytes already on disk. Throws InputError when the file is shorter.
std::string xxh3_file_hex(const std::string& path, uint64_t start, uint64_t end);

}  // namespace owl
