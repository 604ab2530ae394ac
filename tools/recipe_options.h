// The provenance recipe of a parsed subcommand, and the way back: recorded options parsed again
// by the same option definitions, for `owl verify --source`.
#pragma once

#include <CLI/CLI.hpp>
#include <set>
#include <string>
#include <vector>

#include "converters/provenance.h"

namespace owl {

// Every option given to `cmd` but those in `not_recipe` (long names without dashes: output,
// threads, quiet, ...), as --name=value (flags as --name), in the order the options are defined.
// Positionals are left out: they name the input, which the record names by its files.
std::vector<std::string> recorded_options(const CLI::App& cmd,
                                          const std::set<std::string>& not_recipe);

// Parses recorded options (and the positional `input`) with the options `cmd` defines.
void parse_recorded(CLI::App& cmd, const std::string& input,
                    const std::vector<std::string>& options);

// --provenance / --no-provenance, shared by the commands that write models.
void add_provenance_flag(CLI::App* cmd, bool& provenance);

}  // namespace owl
