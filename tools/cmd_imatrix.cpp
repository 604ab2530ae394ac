// owl imatrix --in-file F [--in-file F2 ...] -o OUT [--ctx N] [--output-format gguf|dat]:
// importance matrices combined or converted between llama-imatrix's two formats, as
// `llama-imatrix --in-file` does without a text.
#include <cstdio>
#include <memory>

#include "formats/imatrix/imatrix.h"
#include "formats/io/error.h"
#include "formats/io/utf8.h"
#include "tools/commands.h"

namespace owl {
namespace {

struct ImatrixArgs {
  std::vector<std::string> in_files;
  std::string output, format;
  int32_t ctx = 512;
  bool quiet = false;
};

void run_imatrix(const ImatrixArgs& a) {
  const std::string format =
      !a.format.empty() ? a.format : (a.output.ends_with(".dat") ? "dat" : "gguf");
  if (format != "gguf" && format != "dat")
    throw UsageError("--output-format must be gguf or dat, not '" + format + "'");
  Imatrix m;
  for (const auto& f : a.in_files) accumulate(m, read_imatrix(f), f, a.ctx);
  if (format == "dat")
    write_imatrix_dat(m, a.output);
  else
    write_imatrix_gguf(m, a.output);
  if (!a.quiet)
    std::fprintf(stderr, "%zu entries, %d chunks of %d tokens, from %zu file%s to %s\n",
                 m.entries.size(), m.chunk_count, m.chunk_size, a.in_files.size(),
                 a.in_files.size() == 1 ? "" : "s", printable(a.output).c_str());
}

}  // namespace

void add_imatrix_command(CLI::App& app) {
  auto args = std::make_shared<ImatrixArgs>();
  auto* cmd = app.add_subcommand(
      "imatrix",
      "Combine importance matrices, or convert one between llama-imatrix's GGUF and .dat formats");
  cmd->add_option("--in-file", args->in_files,
                  "An importance matrix (GGUF or .dat); repeatable, the matrices are added up")
      ->required();
  cmd->add_option("-o,--output", args->output, "The output (.gguf, or .dat)")->required();
  cmd->add_option("--output-format", args->format,
                  "gguf or dat (default: dat for a .dat output, else gguf)");
  cmd->add_option("-c,--ctx", args->ctx,
                  "Tokens per chunk, as llama-imatrix's --ctx-size: turns legacy .dat values back "
                  "into sums, and counts into chunks (default 512)")
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_flag("-q,--quiet", args->quiet, "No summary line");
  cmd->callback([args] { run_imatrix(*args); });
}

}  // namespace owl
