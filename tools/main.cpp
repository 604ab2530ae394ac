// owl: convert, quantize and verify open-weight model checkpoints.
#include <CLI/CLI.hpp>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "formats/io/error.h"
#include "formats/io/utf8.h"
#include "owl_version.h"
#include "tools/commands.h"
#include "tools/omp_wait_policy.h"

namespace {

// Messages quote names from hostile files: keep them on one line, printable and valid UTF-8.
void print_error(const char* what) {
  std::fprintf(stderr, "owl: error: %s\n", owl::printable(what).c_str());
}

// CLI11's own errors ("--output is required") read like owl's other errors, and point at the
// help of the subcommand that was being parsed.
int usage_error(CLI::App& app, const CLI::ParseError& e) {
  print_error(e.what());
  std::string command = "owl";
  for (CLI::App* sub = &app; !sub->get_subcommands().empty();) {
    sub = sub->get_subcommands().front();
    command += " " + sub->get_name();
  }
  std::fprintf(stderr, "Run '%s --help' for more information.\n", command.c_str());
  return owl::kUsageErrorExit;
}

// The streaming stages allocate and free chunk buffers of up to 16 MB, many from worker threads.
// glibc raises its mmap threshold each time such a buffer is freed, after which the next ones come
// from per-thread arenas that keep the memory: peak memory then creeps up with the model's size.
// A fixed threshold sends every large buffer straight back to the system when freed.
void return_large_buffers_when_freed() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  owl::prefer_passive_omp_waits(argc, argv);
  return_large_buffers_when_freed();
  CLI::App app{
      "owl (open-weights lab): convert, quantize and verify open-weight model checkpoints"};
  app.set_version_flag("--version", "owl " OWL_VERSION);
  app.require_subcommand(1);
  owl::add_inspect_command(app);
  owl::add_convert_command(app);
  owl::add_merge_command(app);
  owl::add_quantize_command(app);
  owl::add_diff_command(app);
  owl::add_validate_command(app);
  owl::add_scan_command(app);
  owl::add_imatrix_command(app);
  owl::add_sign_command(app);
  owl::add_verify_signature_command(app);
  owl::add_bom_command(app);
  owl::add_pull_command(app);
  owl::add_verify_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(app, e);
  } catch (const owl::InputError& e) {
    print_error(e.what());
    return owl::kInputErrorExit;
  } catch (const owl::UsageError& e) {
    print_error(e.what());
    return owl::kUsageErrorExit;
  } catch (const std::exception& e) {
    print_error(e.what());
    return owl::kSystemErrorExit;
  }
  return 0;
}
