// ECDSA keys through OpenSSL, on the curves model-signing accepts (NIST P-256, P-384, P-521),
// each signing with the hash of its size (SHA-256, SHA-384, SHA-512) as Sigstore's specs pair them.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;

namespace owl::signing {

class EcKey {
 public:
  // A PEM private key (PKCS#8 or SEC1, unencrypted). Throws InputError naming `path`.
  static EcKey read_private_pem(const std::string& path);
  // A PEM public key (SubjectPublicKeyInfo). Throws InputError naming `path`.
  static EcKey read_public_pem(const std::string& path);
  // Takes ownership of a key OpenSSL made (from a certificate); `origin` names it in errors.
  static EcKey adopt(evp_pkey_st* key, const std::string& origin);

  // An ECDSA signature (DER) of `message`, hashed with the curve's hash.
  std::vector<std::uint8_t> sign(std::string_view message) const;
  bool verify(std::string_view message, std::span<const std::uint8_t> signature) const;

  // The public half as PEM SubjectPublicKeyInfo, and its SHA-256 in hex: the bundle's key hint.
  std::string public_pem() const;
  std::string hint() const;
  const std::string& curve() const { return curve_; }  // "P-256", ...
  bool same_public_key(const EcKey& other) const;

 private:
  EcKey(std::shared_ptr<evp_pkey_st> key, const std::string& origin);
  std::shared_ptr<evp_pkey_st> key_;
  std::string curve_;
  std::string hash_;  // "SHA256", ...
};

}  // namespace owl::signing
