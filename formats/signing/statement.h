// The in-toto statement model-signing signs: the model's name and root digest as the subject,
// and the serialization and every resource's digest as the predicate
// (predicateType https://model_signing/signature/v1.0).
#pragma once

#include <string>
#include <string_view>

#include "formats/signing/manifest.h"

namespace owl::signing {

inline constexpr std::string_view kStatementType = "https://in-toto.io/Statement/v1";
inline constexpr std::string_view kPredicateType = "https://model_signing/signature/v1.0";

// The statement's JSON bytes: the DSSE payload that gets signed.
std::string statement_json(const Manifest& m);

// Reads a statement back. Throws InputError naming `file` for anything but a v1.0 model
// signature statement whose subject digest matches its resources.
Manifest parse_statement(std::string_view payload, const std::string& file);

}  // namespace owl::signing
