#include "converters/canonical.h"

#include "converters/normalize.h"
#include "formats/open.h"

namespace owl {

Graph open_canonical(const std::string& path) {
  Graph g = open_model(path);
  normalize(g, path, {});
  return g;
}

}  // namespace owl
