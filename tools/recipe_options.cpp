#include "tools/recipe_options.h"

#include <algorithm>

namespace owl {

std::vector<std::string> recorded_options(const CLI::App& cmd,
                                          const std::set<std::string>& not_recipe) {
  std::vector<std::string> out;
  for (const CLI::Option* o : cmd.get_options()) {
    if (o->get_positional() || o->count() == 0 || o->get_lnames().empty()) continue;
    const std::string name = o->get_lnames().front();
    if (name == "help" || not_recipe.count(name)) continue;
    if (o->get_type_size() == 0) {
      out.push_back("--" + name);
      continue;
    }
    for (const auto& r : o->results()) out.push_back("--" + name + "=" + r);
  }
  return out;
}

void parse_recorded(CLI::App& cmd, const std::string& input,
                    const std::vector<std::string>& options) {
  // CLI11 takes the arguments last first.
  std::vector<std::string> args = options;
  args.push_back(input);
  std::reverse(args.begin(), args.end());
  cmd.parse(args);
}

void add_provenance_flag(CLI::App* cmd, bool& provenance) {
  cmd->add_flag("--provenance,!--no-provenance", provenance,
                "Write a provenance record: metadata keys owl.provenance.* (inputs' SHA-256, the "
                "recipe, every tensor's xxh3-128) and <output>.manifest.json beside it; "
                "`owl verify` checks it. On by default; --no-provenance writes the bytes "
                "llama.cpp's tools write");
}

}  // namespace owl
