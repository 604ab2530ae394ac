// A pass over chunks of text shared by the ranks of an MPI job (formats/write_group.h), built so
// that what rank 0 ends with does not depend on how many ranks ran it: results come back to rank
// 0 chunk by chunk and are taken in chunk order, as a single process takes them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "converters/graph.h"
#include "formats/write_group.h"
#include "validate/forward.h"

namespace owl::validate {

// Runs one chunk on this rank; returns its result as bytes.
using RunChunk = std::function<std::string(size_t chunk)>;
// Rank 0's use of each chunk's result, called in chunk order.
using TakeChunk = std::function<void(size_t chunk, std::string result)>;

// Data parallel: every rank holds the whole model and runs chunks rank, rank + size, ...; rank 0
// takes the results a round of `size` chunks at a time. Without a group (a plain run) this
// process runs and takes each chunk in turn.
void share_chunks(WriteGroup* group, size_t chunks, const RunChunk& run, const TakeChunk& take);

// One pipeline stage's part of a chunk: rank 0 gets `in` empty and starts the chunk, rank r > 0
// gets what rank r - 1 returned; what the last rank returns is the chunk's result.
using StageChunk = std::function<std::string(size_t chunk, std::string in)>;

// Pipeline parallel: rank r runs stage r of every chunk, up to `size` chunks in flight. Where
// `stop(done)` holds for the chunks done so far, and at the end, the pipeline empties and every
// rank calls `drained(done)`: the place for collective calls (gathering statistics to write).
void pipeline_chunks(WriteGroup* group, size_t chunks, const StageChunk& stage,
                     const TakeChunk& take, const std::function<bool(size_t done)>& stop,
                     const std::function<void(size_t done)>& drained);

// The layers of each of `stages` pipeline stages: contiguous, cut where the bytes of the layers'
// tensors (blk.N.*) reach each stage's equal share, so each rank maps about as much of the model.
// A stage gets no layers when there are more stages than layers.
std::vector<LayerRange> split_layers(const Graph& g, uint64_t n_layer, int stages);

// Floats as the bytes a stage passes on, and back; `what` names the message in the error.
std::string float_bytes(const std::vector<float>& v);
std::vector<float> bytes_floats(std::string_view bytes, uint64_t count, std::string_view what);

}  // namespace owl::validate
