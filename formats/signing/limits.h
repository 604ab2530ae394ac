// Bounds on what a signature file (a hostile input like any other) may make owl hold.
#pragma once

#include <cstddef>
#include <cstdint>

namespace owl::signing {

// A bundle is a few kilobytes per hundred files; 64 MiB lists several hundred thousand.
inline constexpr uint64_t kMaxBundleBytes = uint64_t{64} << 20;
// Files (or shards) one manifest may list, and files one model folder may hold.
inline constexpr size_t kMaxResources = 1'000'000;
// A resource name is a path relative to the model root (plus ":start:end" for shards).
inline constexpr size_t kMaxResourceNameBytes = 4096;
// ignore_paths entries in a signature's serialization.
inline constexpr size_t kMaxIgnorePaths = 4096;
// Certificates in a bundle's chain: the signing certificate and its issuers.
inline constexpr size_t kMaxCertificates = 16;
// Signatures in one DSSE envelope (model-signing writes one and checks the first).
inline constexpr size_t kMaxEnvelopeSignatures = 16;
// Folder nesting below the model root.
inline constexpr size_t kMaxFolderDepth = 64;

}  // namespace owl::signing
