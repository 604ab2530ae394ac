#include "quant/tensor_order.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace owl {

int32_t llama_sort_layer(std::string_view name) {
  constexpr std::string_view prefix = "blk.";
  if (!name.starts_with(prefix)) return -1;
  size_t i = prefix.size();
  // %d skips white space and takes a sign, as strtol does.
  while (i < name.size() && (name[i] == ' ' || (name[i] >= '\t' && name[i] <= '\r'))) ++i;
  bool negative = false;
  if (i < name.size() && (name[i] == '+' || name[i] == '-')) negative = name[i++] == '-';
  if (i == name.size() || name[i] < '0' || name[i] > '9') return -1;  // no number: not a layer
  // glibc converts with strtol, which saturates at the 64-bit long's limits, and stores the long
  // in the int, keeping its low 32 bits: a number too large for an int sorts where that puts it.
  constexpr uint64_t kLongMax = std::numeric_limits<int64_t>::max();
  uint64_t magnitude = 0;
  bool saturated = false;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) {
    const auto digit = static_cast<uint64_t>(name[i] - '0');
    if (magnitude > (kLongMax + (negative ? 1 : 0) - digit) / 10) saturated = true;
    if (!saturated) magnitude = magnitude * 10 + digit;
  }
  if (saturated) magnitude = kLongMax + (negative ? 1 : 0);
  const uint64_t as_long = negative ? 0 - magnitude : magnitude;  // two's complement
  return static_cast<int32_t>(static_cast<uint32_t>(as_long));
}

bool llama_tensor_before(std::string_view a, std::string_view b) {
  const int32_t la = llama_sort_layer(a), lb = llama_sort_layer(b);
  if (la != lb) return la < lb;
  return a < b;  // byte by byte, as std::string compares in llama.cpp
}

std::vector<size_t> llama_tensor_order(const Graph& g) {
  std::vector<size_t> order(g.tensors.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<int32_t> layer(g.tensors.size());
  for (size_t i = 0; i < g.tensors.size(); ++i) layer[i] = llama_sort_layer(g.tensors[i].name);
  // llama_tensor_before, with each name's layer read once. Names are unique in a model; stable
  // all the same, so that even a graph repeating one (which the writers refuse) has one order.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (layer[a] != layer[b]) return layer[a] < layer[b];
    return g.tensors[a].name < g.tensors[b].name;
  });
  return order;
}

std::vector<size_t> input_tensor_order(const Graph& g) {
  std::vector<size_t> order(g.tensors.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Tensor &x = g.tensors[a], &y = g.tensors[b];
    if (x.input_part != y.input_part) return x.input_part < y.input_part;
    return x.input_offset < y.input_offset;
  });
  return order;
}

namespace {

void reorder(Graph& g, const std::vector<size_t>& order) {
  std::vector<Tensor> sorted;
  sorted.reserve(g.tensors.size());
  for (size_t i : order) sorted.push_back(std::move(g.tensors[i]));
  g.tensors = std::move(sorted);
}

}  // namespace

void sort_tensors_like_llama(Graph& g) {
  reorder(g, llama_tensor_order(g));
}

void sort_tensors_by_input(Graph& g) {
  reorder(g, input_tensor_order(g));
}

}  // namespace owl
