// Writes GGUF version 3, streaming tensor data, optionally split as gguf-split splits.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "converters/progress.h"
#include "formats/tensor_stream.h"
#include "formats/write_group.h"

namespace owl::gguf {

struct WriteOptions {
  // Split before a tensor that would take a part past this many bytes of tensor data (0: no
  // limit), or after this many tensors (0: no limit). Parts are `<stem>-00001-of-0000N.gguf`;
  // the first holds all metadata, every part the split.* keys, as gguf-split writes them.
  uint64_t split_max_bytes = 0;
  uint64_t split_max_tensors = 0;
  // Instead of the limits: the parts as given, this many tensors each in order (--keep-split).
  // One part is a plain file.
  std::vector<size_t> part_sizes;
  Progress* progress = nullptr;
  // Provenance (tensor_stream.h): the keys are patched in the first part's header.
  FinishMetadata finish_metadata;
  // --resume: write into a kept temporary (AtomicFile::partial_path) and journal each finished
  // tensor beside it (".NAME.owl-journal"); a journal already there of the same identity is
  // checked and the tensors it vouches for are not written again. The identity is the header
  // bytes of every part plus `resume_identity` (what else decides the bytes: recipe, inputs).
  bool resume = false;
  std::string resume_identity;
  // Processes writing this output together; null: this one alone. Every process calls write()
  // with the same graph; tensors are shared out by size, rank 0 writes the headers and commits.
  WriteGroup* group = nullptr;
  // Says what a resumed run found (tensors kept, rewritten).
  std::function<void(const std::string&)> note;
};

// Everything is checked before the first byte is written (names of at most 63 bytes, at most
// four dimensions, types GGUF can store, rows whole blocks, no nested arrays). Tensor data go
// out in tensor-info order, each padded with zeros to the alignment (general.alignment, or 32).
// Metadata is written as the graph has it (the pipeline that quantizes adds
// general.quantization_version). Every offset is fixed before the first byte, so tensors may be
// written in any order, by any process of a group. Returns the files written.
std::vector<std::string> write(const Graph& g, const std::string& path,
                               const WriteOptions& opt = {});

// Where write() puts things in a single file: the header (metadata and tensor infos) padded to
// the alignment, then every tensor padded to it. Tensor types do not change the header's size.
struct SingleFileLayout {
  uint64_t padded_header = 0;
  uint64_t alignment = 0;
};
SingleFileLayout single_file_layout(const Graph& g);

}  // namespace owl::gguf
