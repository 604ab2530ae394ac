// What `owl validate` tells: a table for the terminal, JSON for scripts, an HTML page for people.
#pragma once

#include <string>

#include "formats/json/strict_json.h"
#include "validate/run.h"

namespace owl::validate {

struct ReportNames {
  std::string ref, test;  // the models' paths, as the user gave them
};

std::string report_table(const ValidateResult& r, const ReportNames& names);
Json report_json(const ValidateResult& r, const ReportNames& names);
// One self-contained page: summary, KLD histogram and per-layer error as inline SVG.
std::string report_html(const ValidateResult& r, const ReportNames& names);

// JSON of a tensor comparison (shared with `owl diff --json`).
Json tensor_diff_json(const TensorDiff& d);

}  // namespace owl::validate
