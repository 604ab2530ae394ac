#include "formats/signing/model_signature.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "formats/io/error.h"
#include "formats/signing/bundle.h"
#include "formats/signing/certificate.h"
#include "formats/signing/dsse.h"
#include "formats/signing/ec_key.h"
#include "formats/signing/statement.h"

namespace owl::signing {

namespace fs = std::filesystem;

namespace {

// The key the signature must verify with: the given public key (whose hint must match, as
// model-signing checks it), or the signing certificate's once its chain checks out.
EcKey signer_key(const Bundle& b, const Trust& trust, const std::string& file) {
  if (!trust.public_key.empty()) {
    if (!b.certificates.empty())
      throw InputError(file, "was signed with a certificate; verify it with --certificate-chain");
    EcKey key = EcKey::read_public_pem(trust.public_key);
    if (!b.key_hint.empty() && b.key_hint != key.hint())
      throw InputError(file, "was signed with another key (its key hint is " + b.key_hint + ", " +
                                 trust.public_key + "'s is " + key.hint() + ")");
    return key;
  }
  if (b.certificates.empty())
    throw InputError(file, "was signed with a key, not a certificate; verify it with --public-key");
  return verify_certificate_chain(b.certificates, trust.certificate_chain, file);
}

std::map<std::string, const Resource*> by_name(const std::vector<Resource>& rs) {
  std::map<std::string, const Resource*> m;
  for (const Resource& r : rs) m.emplace(r.name, &r);
  return m;
}

}  // namespace

std::optional<std::string> path_in_model(const std::string& model, const std::string& path) {
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(model, ec);
  const fs::path p = fs::weakly_canonical(path, ec);
  const fs::path rel = p.lexically_relative(root);
  if (ec || rel.empty() || rel == "." || *rel.begin() == "..") return std::nullopt;
  return rel.generic_string();
}

Signed sign_model(const SignRequest& r) {
  const EcKey key = EcKey::read_private_pem(r.private_key);
  Bundle b;
  if (!r.certificate.empty()) {
    b.certificates = read_pem_certificates(r.certificate);
    b.certificates.resize(1);  // the signing certificate; its issuers come from the chain files
    if (!certificate_key(b.certificates[0], r.certificate).same_public_key(key))
      throw UsageError(r.certificate + ": the certificate's public key is not the one of " +
                       r.private_key);
    for (const std::string& path : r.certificate_chain)
      for (Der& der : read_pem_certificates(path)) b.certificates.push_back(std::move(der));
  } else {
    b.key_hint = key.hint();
  }
  Manifest m = hash_model(r.model, r.serialization);
  b.payload_type = kInTotoPayloadType;
  b.payload = statement_json(m);
  b.signature = key.sign(pae(b.payload_type, b.payload));
  return {bundle_json(b), std::move(m), key.curve()};
}

Verification verify_model(const std::string& model, const std::string& signature_path,
                          const Trust& trust, const std::vector<std::string>& also_ignore) {
  const Bundle b = read_bundle(signature_path);
  const EcKey key = signer_key(b, trust, signature_path);
  // Nothing in the payload is looked at before the signature over it checks out.
  if (!key.verify(pae(b.payload_type, b.payload), b.signature))
    throw InputError(signature_path,
                     "the signature does not verify: the signed statement was "
                     "changed, or another key signed it");
  if (b.payload_type != kInTotoPayloadType)
    throw InputError(signature_path, "signs a payload of type '" + b.payload_type + "', not '" +
                                         std::string(kInTotoPayloadType) + "'");
  Verification v{parse_statement(b.payload, signature_path), {}, {}, {}};

  Serialization s = v.signed_manifest.serialization;
  for (const std::string& p : also_ignore)
    if (std::find(s.ignore_paths.begin(), s.ignore_paths.end(), p) == s.ignore_paths.end())
      s.ignore_paths.push_back(p);
  const Manifest actual = hash_model(model, s);

  const auto want = by_name(v.signed_manifest.resources);
  const auto have = by_name(actual.resources);
  for (const auto& [name, r] : want) {
    const auto it = have.find(name);
    if (it == have.end())
      v.missing.push_back(name);
    else if (it->second->digest != r->digest)
      v.changed.push_back(name);
  }
  for (const auto& [name, r] : have)
    if (!want.count(name)) v.extra.push_back(name);
  return v;
}

}  // namespace owl::signing
