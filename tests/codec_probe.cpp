// owl_codec_probe: owl's block quantizer on raw floats, for tests/interop/test_weighted_codecs.py
// to compare with ggml's bytes. Test-only, not installed.
//
//   owl_codec_probe TYPE ROW_WIDTH ROWS.f32 OUT.bin [WEIGHTS.f32]
//
// ROWS.f32 holds whole rows of ROW_WIDTH little-endian floats; WEIGHTS.f32, when given, the
// importance matrix's ROW_WIDTH column weights, and the rows go through quantize_row_weighted.
#include <cstdio>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "converters/types.h"
#include "quant/codec.h"

namespace {

std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error(path + ": cannot open");
  const auto size = static_cast<size_t>(in.tellg());
  if (size % sizeof(float) != 0)
    throw std::runtime_error(path + ": size is not a whole number of floats");
  std::vector<float> v(size / sizeof(float));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(size)))
    throw std::runtime_error(path + ": cannot read");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: owl_codec_probe TYPE ROW_WIDTH ROWS.f32 OUT.bin [WEIGHTS.f32]\n");
    return 2;
  }
  try {
    const auto type = owl::type_from_name(argv[1]);
    if (!type || !owl::is_quantized(*type))
      throw std::runtime_error(std::string(argv[1]) + ": not a block type");
    const size_t width = std::stoul(argv[2]);
    const std::vector<float> x = read_floats(argv[3]);
    const owl::TypeInfo& info = owl::type_info(*type);
    if (width == 0 || x.size() % width != 0 || width % info.block_elems != 0)
      throw std::runtime_error(std::string(argv[3]) + ": not whole rows of whole blocks");
    std::vector<std::byte> out(x.size() / info.block_elems * info.block_bytes);
    if (argc == 6) {
      const std::vector<float> weights = read_floats(argv[5]);
      if (weights.size() != width)
        throw std::runtime_error(std::string(argv[5]) + ": not one weight per column");
      owl::quantize_row_weighted(*type, x, out, weights);
    } else {
      owl::quantize_row(*type, x, out);
    }
    std::ofstream o(argv[4], std::ios::binary);
    o.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
    if (!o) throw std::runtime_error(std::string(argv[4]) + ": cannot write");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "owl_codec_probe: %s\n", e.what());
    return 1;
  }
  return 0;
}
