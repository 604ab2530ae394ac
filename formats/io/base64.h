// Base64 (RFC 4648, standard alphabet), as JSON documents carry binary: Sigstore bundles hold
// signatures, payloads and certificates this way.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace owl {

// With '=' padding, as protobuf's JSON mapping and Python's base64 module write it.
std::string base64_encode(std::span<const std::uint8_t> bytes);
std::string base64_encode(std::string_view bytes);

// Standard alphabet, padding optional (protobuf's JSON parsers accept both); anything else, a
// stray character or a dangling bit, is refused with nullopt rather than skipped.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

}  // namespace owl
