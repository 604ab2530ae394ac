#include "converters/graph.h"

namespace owl {

uint64_t Tensor::elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

std::string Tensor::shape_string() const { return shape_to_string(shape); }

std::string shape_to_string(std::span<const uint64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

const Tensor* Graph::find(std::string_view name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

uint64_t Graph::parameter_count() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.elements();
  return n;
}

uint64_t Graph::tensor_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.byte_size();
  return n;
}

uint64_t Graph::input_bytes() const {
  uint64_t n = 0;
  for (const auto& f : inputs) n += f.size;
  return n;
}

}  // namespace owl
