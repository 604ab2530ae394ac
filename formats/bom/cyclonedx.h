// A CycloneDX 1.6 ML-BOM (JSON) for one model: the model component with its hashes and model
// card, its pedigree, and the recipe that made it as formulation.
#pragma once

#include <string>

#include "formats/bom/model_facts.h"

namespace owl::bom {

// The document as JSON text. Deterministic: no timestamp, and the serial number is derived from
// the files' hashes, so the same file always gives the same bytes.
std::string cyclonedx_json(const ModelFacts& f, const std::string& tool_version);

}  // namespace owl::bom
