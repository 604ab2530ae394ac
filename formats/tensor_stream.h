// Streams tensor data into an output file: the inner loop every writer shares.
#pragma once

#include <cstdint>

#include "converters/graph.h"
#include "converters/progress.h"
#include "formats/io/atomic_file.h"

namespace owl {

// Writes the tensor's bytes chunk by chunk (releasing each chunk's memory as it goes), reports
// progress, and returns the byte count, which is checked against the tensor's declared size.
uint64_t stream_tensor(AtomicFile& f, const Tensor& t, Progress* progress);

}  // namespace owl
