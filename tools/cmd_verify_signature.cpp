// owl verify-signature PATH --public-key P.pem: checks a model against its OpenSSF model-signing
// signature (made by owl or by `model_signing sign key` / `certificate`).
#include <cstdio>
#include <memory>

#include "formats/io/error.h"
#include "formats/io/utf8.h"
#include "formats/signing/model_signature.h"
#include "tools/commands.h"

namespace owl {
namespace {

struct VerifySignatureArgs {
  std::string model, signature;
  signing::Trust trust;
  bool quiet = false;
};

void list(const char* what, const std::vector<std::string>& names) {
  for (const std::string& n : names) std::printf("%s: %s\n", what, printable(n).c_str());
}

void run_verify_signature(VerifySignatureArgs a) {
  if (a.trust.public_key.empty() == a.trust.certificate_chain.empty())
    throw UsageError("give either --public-key or --certificate-chain");
  if (a.signature.empty()) {
    std::string p = a.model;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    a.signature = p + ".sig";
  }
  std::vector<std::string> ignore;
  if (const auto rel = signing::path_in_model(a.model, a.signature)) ignore.push_back(*rel);
  const signing::Verification v = signing::verify_model(a.model, a.signature, a.trust, ignore);
  list("changed", v.changed);
  list("missing", v.missing);
  list("not signed", v.extra);
  std::fflush(stdout);
  const size_t n = v.signed_manifest.resources.size();
  if (!v.ok())
    throw InputError(a.model, "does not match its signature " + a.signature + ": " +
                                  std::to_string(v.changed.size()) + " changed, " +
                                  std::to_string(v.missing.size()) + " missing, " +
                                  std::to_string(v.extra.size()) + " not signed");
  if (!a.quiet)
    std::printf("verified: %zu %s of %s match the signature %s\n", n,
                v.signed_manifest.serialization.method == "shards" ? "shards" : "files",
                a.model.c_str(), a.signature.c_str());
}

}  // namespace

void add_verify_signature_command(CLI::App& app) {
  auto args = std::make_shared<VerifySignatureArgs>();
  auto* cmd = app.add_subcommand(
      "verify-signature",
      "Check a model file or folder against its OpenSSF model-signing signature");
  cmd->add_option("path", args->model, "The model: a file or a folder")->required();
  cmd->add_option("-s,--signature", args->signature, "The signature file (default: PATH.sig)");
  cmd->add_option("--public-key", args->trust.public_key, "PEM public key of the signer");
  cmd->add_option("--certificate-chain", args->trust.certificate_chain,
                  "PEM certificates to trust (certificate mode)");
  cmd->add_flag("-q,--quiet", args->quiet, "Print nothing on success");
  cmd->callback([args] { run_verify_signature(*args); });
}

}  // namespace owl
