#include "formats/signing/ec_key.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>
#include <iterator>

#include "formats/io/digest.h"
#include "formats/io/error.h"

namespace owl::signing {

namespace {

// A PEM key or certificate chain is a few kilobytes; anything larger is not one.
constexpr uint64_t kMaxPemBytes = 1 << 20;

struct CurveInfo {
  const char* openssl_name;
  const char* name;
  const char* hash;
};
constexpr CurveInfo kCurves[] = {
    {"prime256v1", "P-256", "SHA256"},
    {"secp384r1", "P-384", "SHA384"},
    {"secp521r1", "P-521", "SHA512"},
};

std::string read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot be opened");
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, size_t(in.gcount()));
    if (text.size() > kMaxPemBytes)
      throw InputError(path,
                       "is larger than " + std::to_string(kMaxPemBytes) + " bytes; not a PEM key");
  }
  return text;
}

// OpenSSL would otherwise prompt on the terminal for the password of an encrypted key.
int no_password(char*, int, int, void*) {
  return -1;
}

std::shared_ptr<BIO> memory_bio(const std::string& text) {
  BIO* bio = BIO_new_mem_buf(text.data(), int(text.size()));
  if (!bio) throw std::bad_alloc();
  return {bio, BIO_free};
}

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* key) {
  return {key, EVP_PKEY_free};
}

std::shared_ptr<EVP_MD_CTX> new_md_ctx() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) throw std::bad_alloc();
  return {ctx, EVP_MD_CTX_free};
}

}  // namespace

EcKey::EcKey(std::shared_ptr<evp_pkey_st> key, const std::string& origin) : key_(std::move(key)) {
  if (EVP_PKEY_get_base_id(key_.get()) != EVP_PKEY_EC)
    throw InputError(origin, "is not an elliptic-curve (ECDSA) key");
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key_.get(), group, sizeof group, &len) != 1)
    throw InputError(origin, "names no elliptic curve");
  for (const CurveInfo& c : kCurves) {
    if (std::string_view(group) == c.openssl_name) {
      curve_ = c.name;
      hash_ = c.hash;
    }
  }
  if (curve_.empty())
    throw InputError(origin, "is a key on curve " + std::string(group) +
                                 "; model-signing uses P-256, P-384 or P-521");
}

EcKey EcKey::read_private_pem(const std::string& path) {
  const std::string text = read_small_file(path);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(memory_bio(text).get(), nullptr, no_password, nullptr);
  if (!key) throw InputError(path, "is not an unencrypted PEM private key");
  return EcKey(own(key), path);
}

EcKey EcKey::read_public_pem(const std::string& path) {
  const std::string text = read_small_file(path);
  EVP_PKEY* key = PEM_read_bio_PUBKEY(memory_bio(text).get(), nullptr, no_password, nullptr);
  if (!key) throw InputError(path, "is not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  return EcKey(own(key), path);
}

EcKey EcKey::adopt(evp_pkey_st* key, const std::string& origin) {
  if (!key) throw InputError(origin, "holds no public key OpenSSL can read");
  return EcKey(own(key), origin);
}

std::vector<std::uint8_t> EcKey::sign(std::string_view message) const {
  const auto ctx = new_md_ctx();
  size_t len = 0;
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, hash_.c_str(), nullptr, nullptr, key_.get(),
                            nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
    throw std::runtime_error("OpenSSL could not sign with this key (is it a private key?)");
  std::vector<std::uint8_t> sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
    throw std::runtime_error("OpenSSL could not sign");
  sig.resize(len);
  return sig;
}

bool EcKey::verify(std::string_view message, std::span<const std::uint8_t> signature) const {
  const auto ctx = new_md_ctx();
  if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, hash_.c_str(), nullptr, nullptr, key_.get(),
                              nullptr) != 1)
    throw std::runtime_error("OpenSSL could not start verifying");
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::string EcKey::public_pem() const {
  const std::shared_ptr<BIO> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1)
    throw std::runtime_error("OpenSSL could not write the public key");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(n));
}

std::string EcKey::hint() const {
  return sha256_hex(public_pem());
}

bool EcKey::same_public_key(const EcKey& other) const {
  return EVP_PKEY_eq(key_.get(), other.key_.get()) == 1;
}

}  // namespace owl::signing
