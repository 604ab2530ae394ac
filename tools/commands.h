// The owl subcommands, one file each; each registers itself on the CLI.
#pragma once

#include <CLI/CLI.hpp>

namespace owl {

void add_inspect_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_merge_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_diff_command(CLI::App& app);
void add_validate_command(CLI::App& app);
void add_scan_command(CLI::App& app);
void add_imatrix_command(CLI::App& app);
void add_sign_command(CLI::App& app);
void add_verify_signature_command(CLI::App& app);
void add_bom_command(CLI::App& app);
void add_pull_command(CLI::App& app);
void add_verify_command(CLI::App& app);

}  // namespace owl
