#include "registration.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <utility>

#include "berth/init_context.h"
#include "berth/platform.h"
#include "berth/plugin_types.h"
#include "content_store.h"
#include "differ.h"
#include "snapshotter.h"

namespace berth::proxy {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

// Exports, capabilities and platform, as containerd 1.7+ sets them.
Status FillMeta(const ProxySpec& spec, PluginMeta& meta) {
  for (const auto& [key, value] : spec.exports) meta.exports[key] = value;
  meta.exports["address"] = spec.address;
  meta.capabilities.insert(meta.capabilities.end(), spec.capabilities.begin(),
                           spec.capabilities.end());
  if (spec.platform.empty()) {
    meta.platforms.push_back(HostPlatform());
    return Status::Ok();
  }
  auto platform = ParsePlatform(spec.platform);
  if (!platform.ok()) return platform.status();
  meta.platforms.push_back(*platform);
  return Status::Ok();
}

Result<std::shared_ptr<Plugin>> Init(const ProxySpec& spec, const std::string& type,
                                     InitContext& ctx) {
  BERTH_RETURN_IF_ERROR(FillMeta(spec, ctx.meta()));
  auto channel =
      std::make_shared<ProxyChannel>(ChannelOptions{spec.name, spec.address, spec.timeout});
  std::string why = channel->Probe();
  if (!why.empty()) {
    ctx.log().Warn("proxy " + spec.name + " unavailable at start (" + why +
                   "); its calls fail with unavailable until the peer listens there");
    ctx.meta().exports["status"] = "unavailable at start: " + why;
  }
  channel->Connect();
  if (type == types::kSnapshotter) {
    return std::shared_ptr<Plugin>(std::make_shared<ProxySnapshotter>(std::move(channel)));
  }
  if (type == types::kDiffer) {
    return std::shared_ptr<Plugin>(std::make_shared<ProxyDiffer>(std::move(channel)));
  }
  return std::shared_ptr<Plugin>(std::make_shared<ProxyContentStore>(std::move(channel)));
}

}  // namespace

std::string ProxyPluginType(const std::string& type) {
  if (type == "snapshot") return std::string(types::kSnapshotter);
  if (type == "content") return std::string(types::kContent);
  if (type == "diff") return std::string(types::kDiffer);
  return type;
}

Result<Platform> ParsePlatform(const std::string& text) {
  std::vector<std::string> parts = Split(Lower(text), '/');
  if (parts.size() > 3) {
    return Status::InvalidArgument("platform \"" + text + "\": more than os/arch/variant");
  }
  for (const std::string& part : parts) {
    if (part.empty()) return Status::InvalidArgument("platform \"" + text + "\": empty part");
  }
  Platform p;
  p.os = parts[0];
  p.architecture = parts.size() > 1 ? parts[1] : HostArchitecture();
  if (parts.size() > 2) p.variant = parts[2];
  return p;
}

Registration ProxyRegistration(const ProxySpec& spec) {
  Registration r;
  r.type = ProxyPluginType(spec.type);
  r.id = spec.name;
  const std::string type = r.type;
  r.init = [spec, type](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    if (type != types::kSnapshotter && type != types::kContent && type != types::kDiffer) {
      return Status::InvalidArgument("unknown proxy plugin type \"" + spec.type +
                                     "\" (want snapshot, content or diff)");
    }
    return Init(spec, type, ctx);
  };
  return r;
}

}  // namespace berth::proxy
