// PyTorch checkpoints (torch.save) read without Python and without executing the pickle: the
// zip format (torch >= 1.6) and the legacy format (torch < 1.6). Tensors become graph tensors;
// other values become metadata.
//
// Naming: tensors take their path in the saved object, joined with dots: a state dict's keys
// as they are, a nested dict `{"model": {"w": t}}` as "model.w", list items by index
// ("layers.0"). Scalars, strings and lists of scalars at any depth become metadata keys
// "pytorch.<path>" (ints as I64, floats as F64, bools, strings); None, bytes and empty
// containers are dropped. Storage layout follows torch: every view (offset, size, stride) must
// fit in its storage and every storage's bytes must match its record exactly. Contiguous
// tensors are zero-copy views of the input; other views are materialised contiguously when
// read.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "formats/pytorch/unpickler.h"

namespace owl {
class MappedFile;
}

namespace owl::pytorch {

inline constexpr const char* kMetadataPrefix = "pytorch.";
inline constexpr uint64_t kMaxTensorDims = 64;
inline constexpr uint64_t kMaxTensors = 1u << 20;
// Objects visited while flattening. A tree visits each object once; memo entries shared many
// times over make a pickle of a few hundred bytes name 3^40 paths, so the walk also stops once it
// has visited several times as many objects as the pickle holds.
inline constexpr uint64_t kMaxWalkNodes = 1u << 24;
inline constexpr uint64_t kWalkNodesPerObject = 4, kWalkNodesSlack = 1u << 16;
// Legacy files: the first pickle is this number, the second the protocol version.
inline constexpr uint64_t kLegacyProtocolVersion = 1001;

// True if the bytes start like a legacy checkpoint: a pickle (0x80 PROTO) of the magic number.
bool looks_like_legacy(std::span<const std::byte> head);
// True if the bytes start like a checkpoint of either format (a zip, or a legacy pickle).
bool looks_like_checkpoint(std::span<const std::byte> head);
// True if `path` is a regular, non-empty file whose first bytes look like a checkpoint.
bool is_checkpoint_file(const std::string& path);

// Fuzzing and test entry points: a checkpoint held in memory. Tensors' sources refer to
// `bytes`, which must outlive the graph. Throw only InputError on bad input; reading a tensor
// from the returned graph cannot fail.
Graph parse_zip_checkpoint(std::span<const std::byte> bytes, const std::string& file);
Graph parse_legacy_checkpoint(std::span<const std::byte> bytes, const std::string& file);

// A checkpoint file of either format, recognised by its bytes; tensors are views of the map.
Graph read_file(const std::string& path);
// Adds one file's tensors and metadata to `g` (a shard of a sharded checkpoint).
void append_file(Graph& g, const std::string& path);
// A sharded checkpoint through pytorch_model.bin.index.json: every shard it names, checked
// against the weight map.
Graph read_index(const std::string& index_path);

// What `owl inspect --scan` reports: every global the pickle(s) reference, read in scan mode
// (nothing is built, nothing refused early).
struct ScanReport {
  std::string format;  // "pytorch zip" or "pytorch legacy"
  std::vector<GlobalUse> globals;
  // Why a pickle stream broke before its STOP ("" if none did); `globals` holds what came first.
  std::string broken;
  bool any_refused() const;
};
ScanReport scan_checkpoint(std::span<const std::byte> bytes, const std::string& file);
ScanReport scan_file(const std::string& path);

}  // namespace owl::pytorch
