// owl sign PATH --private-key K.pem: an OpenSSF model-signing signature (a Sigstore bundle) for a
// model file or folder, as `model_signing sign key` (or `certificate`) writes it.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "formats/io/atomic_file.h"
#include "formats/io/error.h"
#include "formats/signing/model_signature.h"
#include "tools/commands.h"
#include "tools/human.h"

namespace owl {
namespace {

namespace fs = std::filesystem;

struct SignArgs {
  signing::SignRequest request;
  std::string output;
  std::string shard_size;
  std::vector<std::string> ignore;
  bool no_git_ignore = false;
  bool quiet = false;
};

// Where a model's signature goes unless told: beside it, "<model>.sig".
std::string default_signature_path(const std::string& model) {
  std::string p = model;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p + ".sig";
}

// What the signature says was left out, relative to the model root (model-signing records the
// same list): git's files, the paths asked for, and the signature itself when it sits inside.
std::vector<std::string> ignore_paths(const SignArgs& a) {
  std::vector<std::string> out;
  if (!a.no_git_ignore) out = signing::git_paths();
  for (const std::string& p : a.ignore) {
    const auto rel = signing::path_in_model(a.request.model, p);
    if (!rel)
      throw UsageError("--ignore " + p + ": not inside the model folder " + a.request.model);
    out.push_back(*rel);
  }
  if (const auto rel = signing::path_in_model(a.request.model, a.output)) out.push_back(*rel);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void run_sign(SignArgs a) {
  if (a.output.empty()) a.output = default_signature_path(a.request.model);
  std::error_code ec;
  if (fs::equivalent(a.request.model, a.output, ec))
    throw UsageError("the signature " + a.output + " would replace the model itself");
  signing::Serialization& s = a.request.serialization;
  if (!a.shard_size.empty()) {
    const auto size = parse_size(a.shard_size);
    if (!size || *size == 0) throw UsageError("--shard-size " + a.shard_size + ": not a size");
    s.method = "shards";
    s.shard_size = *size;
  }
  s.ignore_paths = ignore_paths(a);
  const signing::Signed out = signing::sign_model(a.request);

  AtomicFile file(a.output);
  file.write(out.bundle_json);
  file.commit();
  if (a.quiet) return;
  std::printf("signed %zu %s of %s with a %s %s: %s\n", out.manifest.resources.size(),
              s.method == "shards" ? "shards" : "files", a.request.model.c_str(), out.curve.c_str(),
              a.request.certificate.empty() ? "key" : "certificate", a.output.c_str());
}

}  // namespace

void add_sign_command(CLI::App& app) {
  auto args = std::make_shared<SignArgs>();
  auto* cmd = app.add_subcommand(
      "sign",
      "Sign a model file or folder (OpenSSF model-signing format, ECDSA key or certificate)");
  cmd->add_option("path", args->request.model, "The model: a file or a folder")->required();
  cmd->add_option("--private-key", args->request.private_key,
                  "PEM private key (ECDSA P-256, P-384 or P-521, unencrypted)")
      ->required();
  cmd->add_option("--certificate", args->request.certificate,
                  "PEM signing certificate for the key (certificate mode)");
  cmd->add_option("--certificate-chain", args->request.certificate_chain,
                  "PEM files of the certificates that issued it, recorded in the signature");
  cmd->add_option("-o,--output", args->output, "The signature file (default: PATH.sig)");
  cmd->add_option("--shard-size", args->shard_size,
                  "Hash each file in shards of this size (e.g. 1GB) instead of whole");
  cmd->add_option("--ignore", args->ignore, "Leave this file or folder out of the signature");
  cmd->add_flag("--no-ignore-git-paths", args->no_git_ignore,
                "Sign .git, .gitattributes, .github and .gitignore too");
  cmd->add_flag("--allow-symlinks", args->request.serialization.allow_symlinks,
                "Follow symbolic links to files (a Hugging Face cache snapshot is made of them)");
  cmd->add_flag("-q,--quiet", args->quiet, "Print nothing on success");
  cmd->callback([args] { run_sign(*args); });
}

}  // namespace owl
