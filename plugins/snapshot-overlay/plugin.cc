// Registers io.containerd.snapshotter.v1.overlayfs.
#include <memory>
#include <string>
#include <vector>

#include "berth/entry.h"
#include "berth/init_context.h"
#include "berth/platform.h"
#include "berth/plugin_types.h"
#include "overlay.h"

namespace berth::overlay {
namespace {

struct OverlayConfig : PluginConfig {
  std::string root_path;  // default: the plugin's root
  bool upperdir_label = false;
  bool sync_remove = false;
  std::vector<std::string> mount_options;

  void Describe(ConfigFields& f) override {
    f.Field("root_path", root_path);
    f.Field("upperdir_label", upperdir_label);
    f.Field("sync_remove", sync_remove);
    f.Field("mount_options", mount_options);
  }
};

Result<std::shared_ptr<Plugin>> Init(InitContext& ic) {
  const auto& config = ic.Config<OverlayConfig>();
  ic.meta().platforms.push_back(HostPlatform());
  const std::string root = config.root_path.empty() ? ic.root() : config.root_path;
  Options options;
  options.upperdir_label = config.upperdir_label;
  options.sync_remove = config.sync_remove;
  options.mount_options = config.mount_options;
  auto snapshotter = OverlaySnapshotter::Open(root, std::move(options));
  if (!snapshotter.ok()) return snapshotter.status();
  ic.meta().exports["root"] = root;
  return std::shared_ptr<Plugin>(std::move(*snapshotter));
}

void Register(Registrar& registrar) {
  Registration r;
  r.type = std::string(types::kSnapshotter);
  r.id = "overlayfs";
  r.config = [] { return std::make_unique<OverlayConfig>(); };
  r.init = Init;
  registrar.Add(std::move(r));
}

}  // namespace
}  // namespace berth::overlay

BERTH_PLUGIN_LIBRARY(berth::overlay::Register)
