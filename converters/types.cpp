#include "converters/types.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "formats/io/checked_math.h"

namespace owl {
namespace {

using enum ElemType;
using enum TypeKind;

// Block sizes of the ggml types are those of ggml's block structs (ggml-common.h).
constexpr std::array kTypes = {
    TypeInfo{F64, "F64", Float, 1, 8, 28, "F64", false},
    TypeInfo{F32, "F32", Float, 1, 4, 0, "F32", false},
    TypeInfo{F16, "F16", Float, 1, 2, 1, "F16", false},
    TypeInfo{BF16, "BF16", Float, 1, 2, 30, "BF16", false},
    TypeInfo{F8_E4M3, "F8_E4M3", Float, 1, 1, -1, "F8_E4M3", false},
    TypeInfo{F8_E5M2, "F8_E5M2", Float, 1, 1, -1, "F8_E5M2", false},
    TypeInfo{F8_E4M3FNUZ, "F8_E4M3FNUZ", Float, 1, 1, -1, "F8_E4M3FNUZ", false},
    TypeInfo{F8_E5M2FNUZ, "F8_E5M2FNUZ", Float, 1, 1, -1, "F8_E5M2FNUZ", false},
    TypeInfo{F8_E8M0, "F8_E8M0", Float, 1, 1, -1, "F8_E8M0", false},
    TypeInfo{F6_E2M3, "F6_E2M3", Float, 4, 3, -1, "F6_E2M3", false},
    TypeInfo{F6_E3M2, "F6_E3M2", Float, 4, 3, -1, "F6_E3M2", false},
    TypeInfo{F4, "F4", Float, 2, 1, -1, "F4", false},
    TypeInfo{C64, "C64", Float, 1, 8, -1, "C64", false},
    TypeInfo{I8, "I8", Int, 1, 1, 24, "I8", false},
    TypeInfo{I16, "I16", Int, 1, 2, 25, "I16", false},
    TypeInfo{I32, "I32", Int, 1, 4, 26, "I32", false},
    TypeInfo{I64, "I64", Int, 1, 8, 27, "I64", false},
    TypeInfo{U8, "U8", Int, 1, 1, -1, "U8", false},
    TypeInfo{U16, "U16", Int, 1, 2, -1, "U16", false},
    TypeInfo{U32, "U32", Int, 1, 4, -1, "U32", false},
    TypeInfo{U64, "U64", Int, 1, 8, -1, "U64", false},
    TypeInfo{BOOL, "BOOL", Bool, 1, 1, -1, "BOOL", false},
    TypeInfo{Q4_0, "Q4_0", Quantized, 32, 18, 2, "", true},
    TypeInfo{Q4_1, "Q4_1", Quantized, 32, 20, 3, "", true},
    TypeInfo{Q5_0, "Q5_0", Quantized, 32, 22, 6, "", true},
    TypeInfo{Q5_1, "Q5_1", Quantized, 32, 24, 7, "", true},
    TypeInfo{Q8_0, "Q8_0", Quantized, 32, 34, 8, "", true},
    TypeInfo{Q8_1, "Q8_1", Quantized, 32, 36, 9, "", true},
    TypeInfo{Q2_K, "Q2_K", Quantized, 256, 84, 10, "", true},
    TypeInfo{Q3_K, "Q3_K", Quantized, 256, 110, 11, "", true},
    TypeInfo{Q4_K, "Q4_K", Quantized, 256, 144, 12, "", true},
    TypeInfo{Q5_K, "Q5_K", Quantized, 256, 176, 13, "", true},
    TypeInfo{Q6_K, "Q6_K", Quantized, 256, 210, 14, "", true},
    TypeInfo{Q8_K, "Q8_K", Quantized, 256, 292, 15, "", true},
    TypeInfo{IQ2_XXS, "IQ2_XXS", Quantized, 256, 66, 16, "", true},
    TypeInfo{IQ2_XS, "IQ2_XS", Quantized, 256, 74, 17, "", true},
    TypeInfo{IQ3_XXS, "IQ3_XXS", Quantized, 256, 98, 18, "", true},
    TypeInfo{IQ1_S, "IQ1_S", Quantized, 256, 50, 19, "", true},
    TypeInfo{IQ4_NL, "IQ4_NL", Quantized, 32, 18, 20, "", true},
    TypeInfo{IQ3_S, "IQ3_S", Quantized, 256, 110, 21, "", true},
    TypeInfo{IQ2_S, "IQ2_S", Quantized, 256, 82, 22, "", true},
    TypeInfo{IQ4_XS, "IQ4_XS", Quantized, 256, 136, 23, "", true},
    TypeInfo{IQ1_M, "IQ1_M", Quantized, 256, 56, 29, "", true},
    TypeInfo{TQ1_0, "TQ1_0", Quantized, 256, 54, 34, "", true},
    TypeInfo{TQ2_0, "TQ2_0", Quantized, 256, 66, 35, "", true},
    TypeInfo{MXFP4, "MXFP4", Quantized, 32, 17, 39, "", true},
    TypeInfo{NVFP4, "NVFP4", Quantized, 64, 36, 40, "", true},
    TypeInfo{Q1_0, "Q1_0", Quantized, 128, 18, 41, "", true},
    TypeInfo{Q2_0, "Q2_0", Quantized, 64, 18, 42, "", true},
};

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

}  // namespace

const TypeInfo& type_info(ElemType t) {
  const TypeInfo& info = kTypes[static_cast<size_t>(t)];
  return info;
}

std::span<const TypeInfo> all_types() { return kTypes; }

std::optional<ElemType> type_from_name(std::string_view name) {
  for (const auto& t : kTypes)
    if (iequal(t.name, name)) return t.type;
  return std::nullopt;
}

std::optional<ElemType> type_from_ggml_id(uint32_t id) {
  for (const auto& t : kTypes)
    if (t.ggml_id >= 0 && static_cast<uint32_t>(t.ggml_id) == id) return t.type;
  return std::nullopt;
}

std::optional<ElemType> type_from_safetensors(std::string_view dtype) {
  for (const auto& t : kTypes)
    if (!t.st_name.empty() && t.st_name == dtype) return t.type;
  return std::nullopt;
}

std::optional<uint64_t> bytes_for_elements(ElemType t, uint64_t elements) {
  const TypeInfo& info = type_info(t);
  if (elements % info.block_elems != 0) return std::nullopt;
  return checked_mul(elements / info.block_elems, info.block_bytes);
}

ShapeBytes bytes_for_shape(ElemType t, std::span<const uint64_t> shape) {
  const TypeInfo& info = type_info(t);
  auto elements = checked_product(shape);
  if (!elements) return {std::nullopt, "element count overflows 64 bits"};
  if (info.packs_rows && !shape.empty() && shape.back() % info.block_elems != 0) {
    return {std::nullopt, "row of " + std::to_string(shape.back()) + " elements is not a multiple of " +
                              std::string(info.name) + "'s block of " +
                              std::to_string(info.block_elems)};
  }
  auto bytes = bytes_for_elements(t, *elements);
  if (!bytes) {
    if (*elements % info.block_elems != 0) {
      return {std::nullopt, std::to_string(*elements) + " elements do not fill whole " +
                                std::string(info.name) + " blocks of " +
                                std::to_string(info.block_elems)};
    }
    return {std::nullopt, "byte size overflows 64 bits"};
  }
  return {bytes, {}};
}

}  // namespace owl

namespace owl {
// The table is indexed by the enum: keep them in the same order.
static_assert([] {
  for (size_t i = 0; i < kTypes.size(); ++i)
    if (static_cast<size_t>(kTypes[i].type) != i) return false;
  return true;
}());
}  // namespace owl
