// DSSE (Dead Simple Signing Envelope, secure-systems-lab/dsse v1): what a signature covers.
#pragma once

#include <string>
#include <string_view>

namespace owl::signing {

inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";

// The pre-authentication encoding "DSSEv1 <len> <type> <len> <payload>": the bytes the key signs,
// so that neither the type nor the payload can be swapped for another under the same signature.
std::string pae(std::string_view payload_type, std::string_view payload);

}  // namespace owl::signing
