// The plugin graph as berthctl shows it: every plugin in init order with each
// type it requires resolved to the plugins that satisfy it, rendered as an
// indented tree or as a Graphviz digraph. Thread-safe (pure functions).
#ifndef BERTH_CLI_PLUGIN_GRAPH_H_
#define BERTH_CLI_PLUGIN_GRAPH_H_

#include <string>
#include <vector>

#include "plugin_info.h"

namespace berth::cli {

struct Requirement {
  std::string type;                       // as declared; "*" = all others
  std::vector<std::string> satisfied_by;  // plugin URIs, in init order
};

struct PluginNode {
  std::string uri;
  std::string status;  // ok / skip / error
  std::vector<Requirement> requirements;
};

// `plugins` as introspection lists them (init order). A type is satisfied by
// every other listed plugin of that type; "*" by every other listed plugin
// except libraries that failed to load.
std::vector<PluginNode> BuildPluginGraph(
    const std::vector<IntrospectedPlugin>& plugins);

// One line per plugin ("<uri> (<status>)"), under it one branch per required
// type and under that the URIs satisfying it, or "(none)".
std::string RenderTree(const std::vector<PluginNode>& graph);

// `digraph plugins { ... }`: a node per plugin (labelled with its status), an
// edge from each plugin to each plugin it requires, and a dashed edge to a
// "missing" node for a required type nothing satisfies.
std::string RenderDot(const std::vector<PluginNode>& graph);

}  // namespace berth::cli

#endif  // BERTH_CLI_PLUGIN_GRAPH_H_
