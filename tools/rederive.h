// The options a command recorded in a provenance record, parsed back by that command's own
// option definitions (each implemented beside its command), for `owl verify --source`.
#pragma once

#include <string>
#include <vector>

#include "converters/convert.h"
#include "converters/quantize.h"

namespace owl {

QuantizeOptions recorded_quantize_options(const std::string& source,
                                          const std::vector<std::string>& options);
ConvertOptions recorded_convert_options(const std::string& source,
                                        const std::vector<std::string>& options);
// A LoRA adapter's GGUF graph (`owl convert ADAPTER --base BASE`) by its recorded options.
Graph recorded_adapter_graph(const std::string& source, const std::vector<std::string>& options);

}  // namespace owl
