// The Sigstore bundle (media type v0.3, JSON) that model-signing writes as a model's signature:
// verification material (a public key's hint or an X.509 chain) and a DSSE envelope.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace owl::signing {

inline constexpr std::string_view kBundleMediaType =
    "application/vnd.dev.sigstore.bundle.v0.3+json";

using Der = std::vector<std::uint8_t>;

struct Bundle {
  // Key mode: hex SHA-256 of the signer's public key in PEM; model-signing's verifier checks it
  // against the key it is given. Empty in certificate mode (and in old key-mode bundles).
  std::string key_hint;
  // Certificate mode: the signing certificate first, then the chain it was given (DER).
  std::vector<Der> certificates;
  std::string payload_type;
  std::string payload;  // decoded
  Der signature;        // ECDSA, DER; the envelope's first signature
};

std::string bundle_json(const Bundle& b);

// Parses a bundle. Throws InputError naming `file` for anything else: another media type,
// neither kind of verification material, base64 that does not decode, too many of anything.
Bundle parse_bundle(std::string_view text, const std::string& file);

// Reads and parses a bundle file of at most kMaxBundleBytes.
Bundle read_bundle(const std::string& path);

}  // namespace owl::signing
