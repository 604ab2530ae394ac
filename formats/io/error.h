// Errors that owl reports to the user as one line.
#pragma once

#include <stdexcept>
#include <string>

namespace owl {

// Bad input: a file that is truncated, malformed, hostile or of the wrong kind.
// The message names the file and what is wrong; the CLI exits with kInputErrorExit.
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, const std::string& what)
      : std::runtime_error(file.empty() ? what : file + ": " + what) {}
};

// A request that cannot be carried out (bad option value, unsupported combination).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The system refused something (disk full, permission denied).
class SystemError : public std::runtime_error {
 public:
  SystemError(const std::string& file, const std::string& what, int err);
};

inline constexpr int kInputErrorExit = 2;
inline constexpr int kUsageErrorExit = 64;
inline constexpr int kSystemErrorExit = 1;

}  // namespace owl
