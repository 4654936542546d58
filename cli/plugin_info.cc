#include "plugin_info.h"

#include <set>

namespace berth::cli {
namespace {

constexpr char kSkipMarker[] = "skip plugin";

std::string FormatPlatform(const containerd::types::Platform& platform) {
  if (platform.os().empty()) return "unknown";
  std::string text = platform.os();
  if (!platform.architecture().empty()) text += "/" + platform.architecture();
  if (!platform.variant().empty()) text += "/" + platform.variant();
  return text;
}

}  // namespace

std::string PluginUri(const IntrospectedPlugin& plugin) {
  return plugin.type() + "." + plugin.id();
}

std::string PluginStatus(const IntrospectedPlugin& plugin) {
  if (!plugin.has_init_err()) return "ok";
  if (plugin.init_err().message().find(kSkipMarker) != std::string::npos) {
    return "skip";
  }
  return "error";
}

std::string FormatPlatforms(const IntrospectedPlugin& plugin) {
  std::set<std::string> distinct;
  for (const auto& platform : plugin.platforms()) {
    distinct.insert(FormatPlatform(platform));
  }
  if (distinct.empty()) return "-";
  std::string joined;
  for (const auto& text : distinct) {
    if (!joined.empty()) joined += ",";
    joined += text;
  }
  return joined;
}

}  // namespace berth::cli
