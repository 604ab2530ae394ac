#include "formats/signing/bundle.h"

#include "formats/io/base64.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"
#include "formats/json/strict_json.h"
#include "formats/signing/json_fields.h"
#include "formats/signing/limits.h"

namespace owl::signing {

namespace {

Der base64_field(const JsonFields& f, const Json& j, const std::string& where) {
  auto bytes = base64_decode(f.string(j, where));
  if (!bytes) f.fail(where, "is not base64");
  return std::move(*bytes);
}

Json verification_material_json(const Bundle& b) {
  Json material = Json::object();
  if (b.certificates.empty()) {
    material["publicKey"] = {{"hint", b.key_hint}};
  } else {
    Json certs = Json::array();
    for (const Der& c : b.certificates) certs.push_back({{"rawBytes", base64_encode(c)}});
    material["x509CertificateChain"] = {{"certificates", std::move(certs)}};
  }
  material["tlogEntries"] = Json::array();
  return material;
}

void parse_verification_material(const JsonFields& f, const Json& j, Bundle& b) {
  const std::string where = "verificationMaterial";
  if (const Json* key = f.find(j, "publicKey", where)) {
    const std::string at = JsonFields::join(where, "publicKey");
    if (const Json* hint = f.find(*key, "hint", at); hint && !hint->is_null())
      b.key_hint = f.string(*hint, JsonFields::join(at, "hint"));
    return;
  }
  if (const Json* chain = f.find(j, "x509CertificateChain", where)) {
    const std::string at = JsonFields::join(where, "x509CertificateChain");
    const Json& certs = f.array(f.member(*chain, "certificates", at),
                                JsonFields::join(at, "certificates"), kMaxCertificates);
    for (size_t i = 0; i < certs.size(); ++i) {
      const std::string c = JsonFields::at(JsonFields::join(at, "certificates"), i);
      b.certificates.push_back(
          base64_field(f, f.member(certs[i], "rawBytes", c), JsonFields::join(c, "rawBytes")));
    }
    if (b.certificates.empty()) f.fail(at, "holds no certificate");
    return;
  }
  f.fail(where,
         "has neither a publicKey nor an x509CertificateChain (keyless Sigstore "
         "signatures need the network and owl does not verify them)");
}

}  // namespace

std::string bundle_json(const Bundle& b) {
  const std::string payload(b.payload.begin(), b.payload.end());
  Json envelope = {
      {"payload", base64_encode(payload)},
      {"payloadType", b.payload_type},
      {"signatures", Json::array({{{"sig", base64_encode(b.signature)}, {"keyid", ""}}})}};
  Json j = Json::object();
  j["mediaType"] = kBundleMediaType;
  j["verificationMaterial"] = verification_material_json(b);
  j["dsseEnvelope"] = std::move(envelope);
  return j.dump();
}

Bundle parse_bundle(std::string_view text, const std::string& file) {
  const JsonFields f(file);
  const Json j = parse_json_strict(text, file);
  f.object(j, "the signature");
  const std::string& media = f.string(f.member(j, "mediaType", ""), "mediaType");
  if (media != kBundleMediaType)
    f.fail("mediaType", "is '" + media + "', not '" + std::string(kBundleMediaType) +
                            "' (a Sigstore bundle as model-signing v1.x writes it)");
  Bundle b;
  parse_verification_material(f, f.member(j, "verificationMaterial", ""), b);

  const std::string env = "dsseEnvelope";
  const Json& e = f.member(j, env, "");
  const Der payload =
      base64_field(f, f.member(e, "payload", env), JsonFields::join(env, "payload"));
  b.payload.assign(payload.begin(), payload.end());
  b.payload_type = f.string(f.member(e, "payloadType", env), JsonFields::join(env, "payloadType"));
  const std::string sigs_at = JsonFields::join(env, "signatures");
  const Json& sigs = f.array(f.member(e, "signatures", env), sigs_at, kMaxEnvelopeSignatures);
  if (sigs.empty()) f.fail(sigs_at, "is empty");
  const std::string first = JsonFields::at(sigs_at, 0);
  b.signature = base64_field(f, f.member(sigs[0], "sig", first), JsonFields::join(first, "sig"));
  if (b.signature.empty()) f.fail(JsonFields::join(first, "sig"), "is empty");
  return b;
}

Bundle read_bundle(const std::string& path) {
  const auto file = MappedFile::open(path);
  if (file->size() > kMaxBundleBytes)
    throw InputError(path, "signature of " + std::to_string(file->size()) +
                               " bytes is larger than the limit of " +
                               std::to_string(kMaxBundleBytes));
  const auto bytes = file->bytes();
  return parse_bundle({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, path);
}

}  // namespace owl::signing
