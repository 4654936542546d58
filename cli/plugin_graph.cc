#include "plugin_graph.h"

#include <set>

namespace berth::cli {
namespace {

constexpr char kAllPlugins[] = "*";

bool Satisfies(const IntrospectedPlugin& candidate, const std::string& type) {
  if (type == kAllPlugins) return candidate.type() != kLibraryPseudoType;
  return candidate.type() == type;
}

Requirement Resolve(const std::string& type, const std::string& requirer_uri,
                    const std::vector<IntrospectedPlugin>& plugins) {
  Requirement requirement{type, {}};
  for (const auto& candidate : plugins) {
    std::string uri = PluginUri(candidate);
    if (uri != requirer_uri && Satisfies(candidate, type)) {
      requirement.satisfied_by.push_back(std::move(uri));
    }
  }
  return requirement;
}

// Tree branch prefixes: the connector of an entry, and what its children
// are indented with.
std::string Connector(bool last) { return last ? "`-- " : "|-- "; }
std::string Indent(bool last) { return last ? "    " : "|   "; }

void RenderRequirement(const Requirement& requirement, bool last,
                       std::string& out) {
  out += Connector(last) + requirement.type + "\n";
  const std::string indent = Indent(last);
  if (requirement.satisfied_by.empty()) {
    out += indent + Connector(true) + "(none)\n";
    return;
  }
  for (std::size_t i = 0; i < requirement.satisfied_by.size(); ++i) {
    bool last_uri = i + 1 == requirement.satisfied_by.size();
    out += indent + Connector(last_uri) + requirement.satisfied_by[i] + "\n";
  }
}

std::string Escape(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

std::string Quote(const std::string& text) {
  return "\"" + Escape(text) + "\"";
}

// The label breaks the line between URI and status (Graphviz's "\n").
std::string NodeAttributes(const PluginNode& node) {
  std::string attributes =
      "label=\"" + Escape(node.uri) + "\\n" + Escape(node.status) + "\"";
  if (node.status == "error") attributes += ", color=red";
  if (node.status == "skip") attributes += ", color=gray, fontcolor=gray";
  return attributes;
}

std::string MissingNodeId(const std::string& type) { return "missing " + type; }

}  // namespace

std::vector<PluginNode> BuildPluginGraph(
    const std::vector<IntrospectedPlugin>& plugins) {
  std::vector<PluginNode> graph;
  graph.reserve(plugins.size());
  for (const auto& plugin : plugins) {
    PluginNode node{PluginUri(plugin), PluginStatus(plugin), {}};
    for (const auto& type : plugin.requires_types()) {
      node.requirements.push_back(Resolve(type, node.uri, plugins));
    }
    graph.push_back(std::move(node));
  }
  return graph;
}

std::string RenderTree(const std::vector<PluginNode>& graph) {
  std::string out;
  for (const auto& node : graph) {
    out += node.uri + " (" + node.status + ")\n";
    for (std::size_t i = 0; i < node.requirements.size(); ++i) {
      RenderRequirement(node.requirements[i], i + 1 == node.requirements.size(),
                        out);
    }
  }
  return out;
}

std::string RenderDot(const std::vector<PluginNode>& graph) {
  std::string out = "digraph plugins {\n  rankdir=LR;\n  node [shape=box];\n";
  std::set<std::string> missing_types;
  for (const auto& node : graph) {
    out += "  " + Quote(node.uri) + " [" + NodeAttributes(node) + "];\n";
  }
  for (const auto& node : graph) {
    for (const auto& requirement : node.requirements) {
      for (const auto& uri : requirement.satisfied_by) {
        out += "  " + Quote(node.uri) + " -> " + Quote(uri) + ";\n";
      }
      if (requirement.satisfied_by.empty()) {
        missing_types.insert(requirement.type);
        out += "  " + Quote(node.uri) + " -> " +
               Quote(MissingNodeId(requirement.type)) + " [style=dashed];\n";
      }
    }
  }
  for (const auto& type : missing_types) {
    out += "  " + Quote(MissingNodeId(type)) +
           " [label=" + Quote(type + " (missing)") + ", style=dashed];\n";
  }
  return out + "}\n";
}

}  // namespace berth::cli
