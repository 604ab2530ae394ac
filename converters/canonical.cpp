#include "converters/canonical.h"

#include "formats/open.h"

namespace owl {

Graph open_canonical(const std::string& path, const NormalizeOptions& opt) {
  Graph g = open_model(path);
  normalize(g, path, opt);
  return g;
}

}  // namespace owl
