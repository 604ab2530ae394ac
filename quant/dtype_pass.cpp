#include "quant/dtype_pass.h"

#include "quant/float_codec.h"

namespace owl {

size_t cast_float_tensors(Graph& g, ElemType target) {
  size_t changed = 0;
  for (auto& t : g.tensors) {
    if (!is_castable_float(t.type) || t.type == target) continue;
    t.data = std::make_shared<CastSource>(t.data, t.type, target, t.elements());
    t.type = target;
    ++changed;
  }
  return changed;
}

}  // namespace owl
