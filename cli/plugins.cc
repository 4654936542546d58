// `berthctl plugins`: what berthd loaded, as introspection reports it.
//   plugins ls [--detailed|-d] [--quiet|-q] [filter...]
//   plugins graph [--dot] [filter...]
#include <algorithm>
#include <iostream>
#include <map>

#include "args.h"
#include "command.h"
#include "containerd/services/introspection/v1/introspection.grpc.pb.h"
#include "plugin_graph.h"
#include "plugin_info.h"
#include "table.h"

namespace berth::cli {
namespace {

namespace introspection = containerd::services::introspection::v1;

constexpr char kUsage[] =
    "usage: berthctl plugins ls [--detailed|-d] [--quiet|-q] [filter...]\n"
    "       berthctl plugins graph [--dot] [filter...]\n"
    "Filters use containerd's syntax (type==..., id==...); several are OR'd.\n";

grpc::Status FetchPlugins(Client& client,
                          const std::vector<std::string>& filters,
                          std::vector<IntrospectedPlugin>& plugins) {
  auto stub = introspection::Introspection::NewStub(client.channel());
  introspection::PluginsRequest request;
  for (const auto& filter : filters) request.add_filters(filter);
  introspection::PluginsResponse response;
  auto context = client.NewCallContext();
  grpc::Status status = stub->Plugins(context.get(), request, &response);
  plugins.assign(response.plugins().begin(), response.plugins().end());
  return status;
}

std::string RenderList(const std::vector<IntrospectedPlugin>& plugins) {
  Table table;
  table.AddRow({"TYPE", "ID", "PLATFORMS", "STATUS"});
  for (const auto& plugin : plugins) {
    table.AddRow({plugin.type(), plugin.id(), FormatPlatforms(plugin),
                  PluginStatus(plugin)});
  }
  return table.Render();
}

std::string RenderIds(const std::vector<IntrospectedPlugin>& plugins) {
  std::string out;
  for (const auto& plugin : plugins) out += plugin.id() + "\n";
  return out;
}

// Labels ("Capabilities:" the longest) take a fixed column so that every
// plugin's block lines up; nested tables (exports, error) are indented to it.
constexpr std::size_t kLabelWidth = 17;

std::string Field(const std::string& label, const std::string& value = "") {
  std::string line = label;
  if (!value.empty())
    line += std::string(kLabelWidth - label.size(), ' ') + value;
  return line + "\n";
}

std::string Indented(const std::string& lines) {
  std::string out;
  std::size_t begin = 0;
  while (begin < lines.size()) {
    std::size_t end = lines.find('\n', begin);
    out +=
        std::string(kLabelWidth, ' ') + lines.substr(begin, end - begin) + "\n";
    begin = end + 1;
  }
  return out;
}

std::string RenderExports(const IntrospectedPlugin& plugin) {
  std::map<std::string, std::string> sorted(plugin.exports().begin(),
                                            plugin.exports().end());
  Table table;
  for (const auto& [key, value] : sorted) table.AddRow({key, value});
  return Field("Exports:") + Indented(table.Render());
}

std::string RenderInitError(const IntrospectedPlugin& plugin) {
  auto code = static_cast<grpc::StatusCode>(plugin.init_err().code());
  Table table;
  table.AddRow({"Code:", std::string(GrpcCodeName(code))});
  table.AddRow({"Message:", plugin.init_err().message()});
  return Field("Error:") + Indented(table.Render());
}

std::string JoinCapabilities(const IntrospectedPlugin& plugin) {
  std::string joined;
  for (const auto& capability : plugin.capabilities()) {
    joined += (joined.empty() ? "" : ",") + capability;
  }
  return joined;
}

// Type, ID, Requires, Platforms, Exports, Capabilities and Error, each
// present only when set.
std::string RenderDetails(const IntrospectedPlugin& plugin) {
  std::string out = Field("Type:", plugin.type()) + Field("ID:", plugin.id());
  if (!plugin.requires_types().empty()) {
    out += Field("Requires:");
    for (const auto& type : plugin.requires_types())
      out += Indented(type + "\n");
  }
  if (!plugin.platforms().empty()) {
    out += Field("Platforms:", FormatPlatforms(plugin));
  }
  if (!plugin.exports().empty()) out += RenderExports(plugin);
  if (!plugin.capabilities().empty()) {
    out += Field("Capabilities:", JoinCapabilities(plugin));
  }
  if (plugin.has_init_err()) out += RenderInitError(plugin);
  return out;
}

std::string RenderAllDetails(const std::vector<IntrospectedPlugin>& plugins) {
  std::string out;
  for (const auto& plugin : plugins) {
    if (!out.empty()) out += "\n";
    out += RenderDetails(plugin);
  }
  return out;
}

int RunList(Client& client, const std::vector<std::string>& args) {
  po::options_description options("plugins ls");
  // clang-format off
  options.add_options()
      ("detailed,d", po::bool_switch(), "print every field of each plugin")
      ("quiet,q", po::bool_switch(), "print only the plugin ids")
      ("filter", po::value<std::vector<std::string>>(), "filters");
  // clang-format on
  auto vm = ParseArgs(args, options, "filter");
  if (!vm.ok()) return ReportError(vm.status().message() + "\n" + kUsage);

  std::vector<IntrospectedPlugin> plugins;
  grpc::Status status = FetchPlugins(client, Words(*vm, "filter"), plugins);
  if (!status.ok()) return ReportCallError(client, status);
  if ((*vm)["quiet"].as<bool>()) {
    std::cout << RenderIds(plugins);
  } else if ((*vm)["detailed"].as<bool>()) {
    std::cout << RenderAllDetails(plugins);
  } else {
    std::cout << RenderList(plugins);
  }
  return 0;
}

int RunGraph(Client& client, const std::vector<std::string>& args) {
  po::options_description options("plugins graph");
  // clang-format off
  options.add_options()
      ("dot", po::bool_switch(), "print a Graphviz digraph")
      ("filter", po::value<std::vector<std::string>>(), "filters");
  // clang-format on
  auto vm = ParseArgs(args, options, "filter");
  if (!vm.ok()) return ReportError(vm.status().message() + "\n" + kUsage);

  std::vector<IntrospectedPlugin> plugins;
  grpc::Status status = FetchPlugins(client, Words(*vm, "filter"), plugins);
  if (!status.ok()) return ReportCallError(client, status);
  std::vector<PluginNode> graph = BuildPluginGraph(plugins);
  std::cout << ((*vm)["dot"].as<bool>() ? RenderDot(graph) : RenderTree(graph));
  return 0;
}

int RunPlugins(Client& client, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 1 : 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "ls" || args[0] == "list") return RunList(client, rest);
  if (args[0] == "graph") return RunGraph(client, rest);
  return ReportError("plugins: unknown command \"" + args[0] + "\"\n" + kUsage);
}

}  // namespace

CommandGroup PluginsGroup() {
  return {"plugins", "list plugins and show their dependency graph",
          RunPlugins};
}

}  // namespace berth::cli
