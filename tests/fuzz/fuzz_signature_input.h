// One fuzz input through the model-signature parsers, shared by fuzz_signature and the
// regression replay: the input as a Sigstore bundle, and (whether or not that parses) as the
// in-toto statement a bundle's payload holds, which verify-signature reads once the signature
// over it checks out. Bad input may only end in InputError.
#pragma once

#include <string_view>

#include "formats/io/error.h"
#include "formats/signing/bundle.h"
#include "formats/signing/statement.h"

namespace owl::fuzz {

inline void read_signature(std::string_view input) {
  try {
    const signing::Bundle b = signing::parse_bundle(input, "fuzz.sig");
    (void)signing::parse_statement(b.payload, "fuzz.sig");
  } catch (const InputError&) {
  }
  try {
    const signing::Manifest m = signing::parse_statement(input, "fuzz.sig");
    (void)signing::statement_json(m);
  } catch (const InputError&) {
  }
}

}  // namespace owl::fuzz
