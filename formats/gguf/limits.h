// What the GGUF reader and writer accept, as ggml's gguf.cpp and its loader do.
#pragma once

#include <cstdint>

namespace owl::gguf {

inline constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
inline constexpr uint32_t kWriteVersion = 3;
inline constexpr uint32_t kMinReadVersion = 2;  // version 1 had 32-bit counts; nothing uses it now
inline constexpr uint32_t kMaxReadVersion = 3;
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr const char* kAlignmentKey = "general.alignment";
inline constexpr const char* kQuantizationVersionKey = "general.quantization_version";
inline constexpr uint32_t kQuantizationVersion = 2;
// ggml: at most four dimensions, names shorter than GGML_MAX_NAME (64).
inline constexpr uint32_t kMaxDims = 4;
inline constexpr uint64_t kMaxNameBytes = 63;
// Bounds on hostile counts; real files are far below them.
inline constexpr uint64_t kMaxStringBytes = 1ull << 30;
inline constexpr uint64_t kMaxArrayDepth = 8;
// Every tensor and the header are padded to the alignment: a hostile one (2^31) would make a
// 10 KB file write gigabytes. llama.cpp writes 32; page-sized alignments stay well inside this.
inline constexpr uint64_t kMaxAlignment = 1u << 16;
// The smallest encodings: a key/value (empty key length, type, 1-byte value) and a tensor info
// (name length, n_dims, type, offset). Counts beyond what the file could hold are refused early.
inline constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
inline constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;
// The smallest array elements that are not numbers: a string (its length) and an array (type,
// count).
inline constexpr uint64_t kMinStringBytes = 8;
inline constexpr uint64_t kMinArrayBytes = 4 + 8;
// Split files, as gguf-split and llama.cpp's loader name and mark them.
inline constexpr const char* kSplitNoKey = "split.no";
inline constexpr const char* kSplitCountKey = "split.count";
inline constexpr const char* kSplitTensorsCountKey = "split.tensors.count";
inline constexpr uint32_t kMaxSplits = 9999;

}  // namespace owl::gguf
