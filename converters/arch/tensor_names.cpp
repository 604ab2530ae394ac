#include "converters/arch/tensor_names.h"

#include <charconv>

namespace owl::arch {
namespace {

constexpr std::string_view kSkippedPrefixes[] = {
    "mlp",     "vit.",       "vpm.",           "siglip2.",          "conformer.",
    "merger.", "resampler.", "sound_encoder.", "sound_projection.", "speech_embeddings.",
};
constexpr std::string_view kSkippedParts[] = {
    "visual.",          "vision.",
    "audio.",           "talker.",
    "vision_",          "audio_",
    "token2wav.",       "code2wav.",
    "projector.",       "pre_mm_projector_norm",
    "image_newline",    "view_seperator",
    "patch_embed",      "patch_embedding",
    "patch_merger.",    "patch_merge_mlp.",
    "model.connector.",
};
constexpr std::string_view kSkippedSuffixes[] = {".attention.masked_bias", ".attention.bias",
                                                 ".rotary_emb.inv_freq"};
constexpr std::string_view kSuffixes[] = {".weight", ".bias"};
// DeepSeek-V3's router bias, which the reference names as a bias of its own.
constexpr std::string_view kCorrection = "e_score_correction_bias";
constexpr std::string_view kCorrectionBias = "e_score_correction.bias";

// "<stem><suffix>" with suffix .weight or .bias.
std::optional<std::pair<std::string_view, std::string_view>> split_suffix(std::string_view name) {
  for (auto s : kSuffixes)
    if (name.size() > s.size() && name.ends_with(s))
      return std::pair{name.substr(0, name.size() - s.size()), s};
  return std::nullopt;
}

// "<prefix>N.<rest>" -> {N, rest}.
std::optional<std::pair<int64_t, std::string_view>> split_layer(std::string_view stem,
                                                                std::string_view prefix) {
  if (!stem.starts_with(prefix)) return std::nullopt;
  stem.remove_prefix(prefix.size());
  const size_t dot = stem.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 9) return std::nullopt;
  int64_t n = 0;
  auto [p, ec] = std::from_chars(stem.data(), stem.data() + dot, n);
  if (ec != std::errc() || p != stem.data() + dot) return std::nullopt;
  return std::pair{n, stem.substr(dot + 1)};
}

std::optional<MappedName> map(const NameTable& t, std::string_view name, bool to_gguf) {
  auto parts = split_suffix(name);
  if (!parts) return std::nullopt;
  const auto [stem, suffix] = *parts;
  const std::string_view from_layer = to_gguf ? "model.layers." : "blk.";
  const std::string_view to_layer = to_gguf ? "blk." : "model.layers.";
  if (auto layer = split_layer(stem, from_layer)) {
    for (const NamePair& p : t.layers) {
      if ((to_gguf ? p.hf : p.gguf) == layer->second) {
        return MappedName{std::string(to_layer) + std::to_string(layer->first) + "." +
                              std::string(to_gguf ? p.gguf : p.hf) + std::string(suffix),
                          layer->first};
      }
    }
    return std::nullopt;
  }
  for (const NamePair& p : t.globals)
    if ((to_gguf ? p.hf : p.gguf) == stem)
      return MappedName{std::string(to_gguf ? p.gguf : p.hf) + std::string(suffix), {}};
  return std::nullopt;
}

}  // namespace

bool is_skipped_hf_tensor(std::string_view name) {
  for (auto p : kSkippedPrefixes)
    if (name.starts_with(p)) return true;
  for (auto p : kSkippedParts)
    if (name.find(p) != std::string_view::npos) return true;
  for (auto s : kSkippedSuffixes)
    if (name.ends_with(s)) return true;
  return false;
}

std::string normalized_hf_name(std::string_view name) {
  std::string out(name);
  constexpr std::string_view kLm = "language_model.";
  for (size_t at = out.find(kLm); at != std::string::npos; at = out.find(kLm, at))
    out.erase(at, kLm.size());
  if (out.starts_with("layers.") || out.starts_with("embed_tokens.") || out.starts_with("norm."))
    out = "model." + out;
  if (out.ends_with(kCorrection)) out[out.size() - 5] = '.';
  return out;
}

std::string denormalized_hf_name(std::string name) {
  if (name.ends_with(kCorrectionBias)) name[name.size() - 5] = '_';
  return name;
}

std::optional<MappedName> hf_to_gguf_name(const NameTable& t, std::string_view hf) {
  return map(t, hf, true);
}
std::optional<MappedName> gguf_to_hf_name(const NameTable& t, std::string_view gguf) {
  return map(t, gguf, false);
}

std::optional<std::pair<int64_t, std::string_view>> split_hf_layer(std::string_view name) {
  return split_layer(name, "model.layers.");
}

std::optional<std::pair<int64_t, std::string_view>> split_gguf_layer(std::string_view name) {
  return split_layer(name, "blk.");
}

std::string gguf_stem(std::string_view gguf) {
  auto parts = split_suffix(gguf);
  std::string_view stem = parts ? parts->first : gguf;
  if (auto layer = split_layer(stem, "blk.")) stem = layer->second;
  return std::string(stem);
}

}  // namespace owl::arch
