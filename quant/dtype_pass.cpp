#include "quant/dtype_pass.h"

#include "quant/dequantize_source.h"
#include "quant/float_codec.h"

namespace owl {

size_t cast_float_tensors(Graph& g, ElemType target) {
  size_t changed = 0;
  for (auto& t : g.tensors) {
    if (t.type == target) continue;
    if (is_quantized(t.type) && can_dequantize_from(t.type)) {
      const uint64_t row = t.shape.back();
      t.data = std::make_shared<DequantizeSource>(t.data, t.type, target, t.elements() / row, row);
    } else if (is_castable_float(t.type)) {
      t.data = std::make_shared<CastSource>(t.data, t.type, target, t.elements());
    } else {
      continue;
    }
    t.type = target;
    ++changed;
  }
  return changed;
}

}  // namespace owl
