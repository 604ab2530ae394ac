// What the importance-matrix readers accept: bounds on hostile counts, far above real files.
#pragma once

#include <cstdint>

namespace owl::imatrix {

inline constexpr const char* kTypeKey = "general.type";
inline constexpr const char* kTypeValue = "imatrix";
inline constexpr const char* kDatasetsKey = "imatrix.datasets";
inline constexpr const char* kChunkCountKey = "imatrix.chunk_count";
inline constexpr const char* kChunkSizeKey = "imatrix.chunk_size";
inline constexpr const char* kSumsSuffix = ".in_sum2";
inline constexpr const char* kCountsSuffix = ".counts";

// A legacy entry's name (GGUF names are bounded by the GGUF reader).
inline constexpr int32_t kMaxNameBytes = 4096;
// A legacy dataset name.
inline constexpr int32_t kMaxDatasetBytes = 1 << 20;
// Token counts are stored as floats and rounded: beyond 2^53 a float is no longer a whole count.
inline constexpr double kMaxCount = 9007199254740992.0;
// The smallest legacy entry: name length, ncall, nval (an empty name, no values is refused).
inline constexpr uint64_t kMinDatEntryBytes = 4 + 4 + 4 + 4;

}  // namespace owl::imatrix
