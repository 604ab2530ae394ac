// X.509 certificates for model-signing's certificate mode: the bundle carries the signing
// certificate and its chain; the verifier trusts the roots it is given.
#pragma once

#include <string>
#include <vector>

#include "formats/signing/bundle.h"
#include "formats/signing/ec_key.h"

namespace owl::signing {

// Every certificate in a PEM file, as DER. Throws InputError naming `path` if it holds none.
std::vector<Der> read_pem_certificates(const std::string& path);

// The public key of a DER certificate.
EcKey certificate_key(const Der& certificate, const std::string& origin);

// Checks that chain[0] (the signing certificate) leads through chain[1..] to one of the
// certificates in `trusted_pem_files`, at the moment the signing certificate became valid (as
// model-signing checks it: a signature outlives its certificate), and that it may sign (key
// usage digitalSignature or extended key usage codeSigning). Returns its public key. Throws
// InputError naming `file` (the signature) when not.
EcKey verify_certificate_chain(const std::vector<Der>& chain,
                               const std::vector<std::string>& trusted_pem_files,
                               const std::string& file);

}  // namespace owl::signing
