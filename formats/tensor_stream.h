// Streams tensor data into an output file: the inner loop every writer shares.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "converters/graph.h"
#include "converters/progress.h"
#include "formats/io/atomic_file.h"

namespace owl {

// Writes the tensor's bytes chunk by chunk (releasing each chunk's memory as it goes), reports
// progress, and returns the byte count, which is checked against the tensor's declared size.
// With `xxh3`, the bytes are hashed as they pass (xxh3-128 hex), for provenance records.
uint64_t stream_tensor(AtomicFile& f, const Tensor& t, Progress* progress,
                       std::string* xxh3 = nullptr);

}  // namespace owl

namespace owl {

// Provenance: a writer given one hashes every tensor (xxh3-128) as it streams. Once all are
// written, it calls this with the hashes, in the graph's tensor order, and gets final values for
// metadata keys the graph holds as placeholders of the same serialized size; it patches them
// into the header in place, so the header can precede data whose hashes it records.
using FinishMetadata = std::function<Metadata(const std::vector<std::string>& xxh3)>;

// `meta` with the values of `late`'s keys replaced; throws logic_error if a key is not there.
Metadata with_late_values(const Metadata& meta, const Metadata& late);

}  // namespace owl
