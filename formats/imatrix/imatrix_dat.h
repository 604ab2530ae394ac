// The legacy `.dat` importance matrix (llama-imatrix --output-format dat): a count of entries,
// then per entry its name, ncall, the number of values and the values, then optionally the chunk
// count and the dataset's name; little-endian 32-bit integers and floats throughout.
#pragma once

#include "formats/imatrix/imatrix.h"
#include "formats/io/mapped_file.h"

namespace owl {

Imatrix read_imatrix_dat(const MappedFile& file);

}  // namespace owl
