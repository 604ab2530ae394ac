#include "formats/signing/certificate.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <fstream>
#include <memory>

#include "formats/io/error.h"

namespace owl::signing {

namespace {

// A chain of a handful of PEM certificates is tens of kilobytes.
constexpr uint64_t kMaxCertificateFileBytes = 4 << 20;

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

X509Ptr parse_der(const Der& der, const std::string& origin) {
  const unsigned char* p = der.data();
  X509* cert = d2i_X509(nullptr, &p, long(der.size()));
  if (!cert || p != der.data() + der.size()) {
    X509_free(cert);
    ERR_clear_error();
    throw InputError(origin, "holds a certificate that is not valid DER X.509");
  }
  return {cert, X509_free};
}

Der to_der(X509* cert) {
  unsigned char* out = nullptr;
  const int n = i2d_X509(cert, &out);
  if (n <= 0) throw std::runtime_error("OpenSSL could not encode a certificate");
  Der der(out, out + n);
  OPENSSL_free(out);
  return der;
}

bool may_sign(X509* cert) {
  const uint32_t flags = X509_get_extension_flags(cert);
  if ((flags & EXFLAG_KUSAGE) && (X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE)) return true;
  return (flags & EXFLAG_XKUSAGE) && (X509_get_extended_key_usage(cert) & XKU_CODE_SIGN);
}

}  // namespace

std::vector<Der> read_pem_certificates(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot be opened");
  std::string text(kMaxCertificateFileBytes + 1, '\0');
  in.read(text.data(), std::streamsize(text.size()));
  text.resize(size_t(in.gcount()));
  if (text.size() > kMaxCertificateFileBytes)
    throw InputError(path, "is larger than " + std::to_string(kMaxCertificateFileBytes) +
                               " bytes; not a PEM certificate file");
  const std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(text.data(), int(text.size())), BIO_free);
  std::vector<Der> out;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    const X509Ptr owned(cert, X509_free);
    out.push_back(to_der(cert));
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (out.empty()) throw InputError(path, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  return out;
}

EcKey certificate_key(const Der& certificate, const std::string& origin) {
  const X509Ptr cert = parse_der(certificate, origin);
  return EcKey::adopt(X509_get_pubkey(cert.get()), origin);
}

EcKey verify_certificate_chain(const std::vector<Der>& chain,
                               const std::vector<std::string>& trusted_pem_files,
                               const std::string& file) {
  if (chain.empty()) throw InputError(file, "holds no certificate");
  const std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                      X509_STORE_free);
  for (const std::string& path : trusted_pem_files)
    for (const Der& der : read_pem_certificates(path))
      X509_STORE_add_cert(store.get(), parse_der(der, path).get());

  const X509Ptr leaf = parse_der(chain[0], file);
  const std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> untrusted(
      sk_X509_new_null(), [](STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); });
  for (size_t i = 1; i < chain.size(); ++i)
    sk_X509_push(untrusted.get(), parse_der(chain[i], file).release());

  std::tm not_before{};
  if (ASN1_TIME_to_tm(X509_get0_notBefore(leaf.get()), &not_before) != 1)
    throw InputError(file, "the signing certificate has no readable notBefore time");
  const std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                            X509_STORE_CTX_free);
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1)
    throw std::runtime_error("OpenSSL could not start checking a certificate chain");
  X509_STORE_CTX_set_time(ctx.get(), 0, timegm(&not_before));
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    throw InputError(file,
                     std::string("the signing certificate does not chain to a trusted one: ") +
                         X509_verify_cert_error_string(err));
  }
  if (!may_sign(leaf.get()))
    throw InputError(file,
                     "the signing certificate allows neither digitalSignature nor codeSigning");
  return EcKey::adopt(X509_get_pubkey(leaf.get()), file);
}

}  // namespace owl::signing
