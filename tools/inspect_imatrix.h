// `owl inspect` of an importance matrix (llama-imatrix's GGUF, general.type = imatrix, or a
// legacy .dat): its entries, chunks, datasets, and the tensors some of whose experts no token
// reached.
#pragma once

#include <string>

namespace owl {

// Describes `path` and returns true if it is an importance matrix; false (printing nothing) for
// any other file.
bool inspect_imatrix(const std::string& path, bool json);

}  // namespace owl
