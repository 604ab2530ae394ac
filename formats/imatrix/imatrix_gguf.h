// The GGUF importance matrix (llama-imatrix's default since 2025), through owl's GGUF reader and
// writer.
#pragma once

#include <string>

#include "formats/imatrix/imatrix.h"

namespace owl {

Imatrix read_imatrix_gguf(const std::string& path);

}  // namespace owl
