// owl: convert, quantize and verify open-weight model checkpoints.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "formats/io/error.h"
#include "tools/commands.h"

namespace {

// Messages quote names from hostile files: keep them on one line and printable.
void print_error(const char* what) {
  std::string line = "owl: error: ";
  for (const char* p = what; *p; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      line += buf;
    } else {
      line += static_cast<char>(c);
    }
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"owl (open-weights lab): convert, quantize and verify open-weight model checkpoints"};
  app.set_version_flag("--version", "owl 0.1.0");
  app.require_subcommand(1);
  owl::add_inspect_command(app);
  owl::add_convert_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return owl::kUsageErrorExit;
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
