// A small insertion-ordered map: special token ids and add flags are written in the order they
// were found, as Python's dicts keep them.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace owl::tok {

template <typename T>
class Ordered {
 public:
  // Replaces the value in place, or appends.
  void set(const std::string& key, T value) {
    if (T* v = find(key))
      *v = std::move(value);
    else
      items_.emplace_back(key, std::move(value));
  }
  // Appends only when the key is absent.
  void set_default(const std::string& key, T value) {
    if (!find(key)) items_.emplace_back(key, std::move(value));
  }
  const T* find(const std::string& key) const {
    for (const auto& [k, v] : items_)
      if (k == key) return &v;
    return nullptr;
  }
  T* find(const std::string& key) {
    for (auto& [k, v] : items_)
      if (k == key) return &v;
    return nullptr;
  }
  const std::vector<std::pair<std::string, T>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, T>> items_;
};

}  // namespace owl::tok
