// Signing a model and verifying a model against its signature, in the OpenSSF model-signing
// format (v1.x of the `model-signing` package): key and certificate modes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "formats/signing/manifest.h"

namespace owl::signing {

struct SignRequest {
  std::string model;                           // a file or a folder
  std::string private_key;                     // PEM
  std::string certificate;                     // PEM signing certificate; empty for key mode
  std::vector<std::string> certificate_chain;  // PEM files, recorded after the certificate
  Serialization serialization;
};

struct Signed {
  std::string bundle_json;
  Manifest manifest;
  std::string curve;
};

Signed sign_model(const SignRequest& r);

struct Trust {
  std::string public_key;                      // PEM; key mode
  std::vector<std::string> certificate_chain;  // PEM roots (and intermediates); certificate mode
};

struct Verification {
  Manifest signed_manifest;
  std::vector<std::string> changed, missing, extra;  // resource names
  bool ok() const { return changed.empty() && missing.empty() && extra.empty(); }
};

// Checks the signature file against `trust` (InputError naming it when it does not verify), then
// hashes the model as the signature says and compares. `also_ignore`: more paths relative to the
// model root (the signature file itself, when it sits inside the model folder).
Verification verify_model(const std::string& model, const std::string& signature_path,
                          const Trust& trust, const std::vector<std::string>& also_ignore);

// `path` relative to the model folder if it lies inside it ("model.sig"), else nullopt.
std::optional<std::string> path_in_model(const std::string& model, const std::string& path);

}  // namespace owl::signing
