#include "converters/canonical.h"

#include "formats/open.h"

namespace owl {

Graph open_canonical(const std::string& path) {
  Graph g = open_model(path);
  return g;
}

}  // namespace owl
