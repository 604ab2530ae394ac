#include "formats/io/error.h"

#include <cstring>

namespace owl {

SystemError::SystemError(const std::string& file, const std::string& what, int err)
    : std::runtime_error(file + ": " + what + (err ? std::string(": ") + std::strerror(err) : "")) {}

}  // namespace owl
