#include "converters/arch/yaml_tree.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <sstream>
#include <unordered_map>

#include "formats/io/error.h"

namespace owl::arch::yaml {
namespace {

// Builds the tree from yaml-cpp's events. The event interface, rather than YAML::Load, lets the
// limits act while yaml-cpp parses: a collection start past kMaxDepth throws before yaml-cpp
// descends into it, so its recursion stays shallow whatever the input nests.
class Builder final : public YAML::EventHandler {
 public:
  explicit Builder(Tree& tree) : tree_(tree) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { add(Node{}, mark, anchor); }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const auto it = anchors_.find(anchor);
    if (it == anchors_.end()) throw YAML::ParserException(mark, "an alias names no anchor");
    count(mark);
    attach(it->second, mark);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    Node n;
    n.kind = Node::Kind::scalar;
    n.plain = tag == "?";  // yaml-cpp's non-specific tag of a plain scalar ("!" when quoted)
    n.text = value;
    add(std::move(n), mark, anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(Node::Kind::sequence, mark, anchor);
  }
  void OnSequenceEnd() override { open_.pop_back(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(Node::Kind::mapping, mark, anchor);
  }
  void OnMapEnd() override { open_.pop_back(); }

 private:
  void count(const YAML::Mark& mark) {
    if (++events_ > kMaxNodes)
      throw YAML::ParserException(
          mark, "holds more than " + std::to_string(kMaxNodes) + " nodes and aliases");
  }

  uint32_t add(Node n, const YAML::Mark& mark, YAML::anchor_t anchor) {
    count(mark);
    const auto id = static_cast<uint32_t>(tree_.nodes.size());
    tree_.nodes.push_back(std::move(n));
    // yaml-cpp numbers anchors itself (a redefined name gets a new number); 0 means none.
    if (anchor != YAML::NullAnchor) anchors_[anchor] = id;
    attach(id, mark);
    return id;
  }

  void attach(uint32_t id, const YAML::Mark& mark) {
    if (!open_.empty()) {
      tree_.nodes[open_.back()].children.push_back(id);
    } else if (!tree_.root) {
      tree_.root = id;
    } else {
      throw YAML::ParserException(mark, "holds more than one document");
    }
  }

  void open(Node::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (open_.size() >= kMaxDepth)
      throw YAML::ParserException(
          mark, "nests collections deeper than " + std::to_string(kMaxDepth) + " levels");
    Node n;
    n.kind = kind;
    open_.push_back(add(std::move(n), mark, anchor));
  }

  Tree& tree_;
  std::vector<uint32_t> open_;  // the collections being read, innermost last
  std::unordered_map<YAML::anchor_t, uint32_t> anchors_;
  size_t events_ = 0;
};

}  // namespace

Tree parse(std::string_view text, const std::string& file, size_t first_line) {
  Tree tree;
  // yaml-cpp ends a quoted string left open at the end of its input there, where PyYAML (and
  // the YAML spec) refuse it. A closing document marker makes yaml-cpp refuse it too: "..." at
  // the start of a line inside a quoted string is an error, and elsewhere it only ends the
  // document.
  std::string input(text);
  if (!input.empty() && input.back() != '\n') input += '\n';
  const auto marker_line = static_cast<size_t>(std::count(input.begin(), input.end(), '\n'));
  input += "...\n";
  std::istringstream in(std::move(input));
  try {
    YAML::Parser parser(in);
    Builder builder(tree);
    // A second document is refused as PyYAML's safe_load (llama.cpp's reader) refuses it; the
    // builder sees its first node, so an empty second document is the only one that gets here.
    if (parser.HandleNextDocument(builder) && parser.HandleNextDocument(builder))
      throw InputError(file, "front matter holds more than one YAML document");
  } catch (const YAML::Exception& e) {
    // The mark is 0-based within `text`; null (-1) when yaml-cpp knows no place.
    if (!e.mark.is_null() && static_cast<size_t>(e.mark.line) >= marker_line)
      throw InputError(file, "front matter ends inside a quoted string, [list] or {mapping}");
    const std::string where =
        e.mark.is_null() ? ""
                         : " line " + std::to_string(first_line + static_cast<size_t>(e.mark.line));
    throw InputError(file, "front matter" + where + ": " + e.msg);
  }
  return tree;
}

}  // namespace owl::arch::yaml
