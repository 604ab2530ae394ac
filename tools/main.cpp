// owl: convert, quantize and verify open-weight model checkpoints.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "formats/io/error.h"
#include "tools/commands.h"

namespace {

// Length of the valid UTF-8 sequence starting at `p` (at most `left` bytes), or 0.
size_t utf8_sequence(const unsigned char* p, size_t left) {
  const unsigned char c = p[0];
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || n > left) return 0;
  for (size_t i = 1; i < n; ++i)
    if ((p[i] & 0xc0) != 0x80) return 0;
  return n;
}

// Messages quote names from hostile files: keep them on one line, printable and valid UTF-8.
void print_error(const char* what) {
  std::string line = "owl: error: ";
  const auto* p = reinterpret_cast<const unsigned char*>(what);
  size_t left = std::strlen(what);
  while (left > 0) {
    const size_t n = utf8_sequence(p, left);
    if (n == 0 || (n == 1 && (p[0] < 0x20 || p[0] == 0x7f))) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", p[0]);
      line += buf;
      ++p;
      --left;
    } else {
      line.append(reinterpret_cast<const char*>(p), n);
      p += n;
      left -= n;
    }
  }
  std::fprintf(stderr, "%s\n", line.c_str());
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "owl (open-weights lab): convert, quantize and verify open-weight model checkpoints"};
  app.set_version_flag("--version", "owl 0.1.0");
  app.require_subcommand(1);
  owl::add_inspect_command(app);
  owl::add_convert_command(app);
  owl::add_quantize_command(app);
  owl::add_diff_command(app);
  owl::add_validate_command(app);

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
