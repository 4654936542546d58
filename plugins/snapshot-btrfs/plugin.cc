// Registers io.containerd.snapshotter.v1.btrfs.
#include <memory>
#include <string>

#include "berth/entry.h"
#include "berth/init_context.h"
#include "berth/platform.h"
#include "berth/plugin_types.h"
#include "btrfs.h"

namespace berth::btrfs {
namespace {

struct BtrfsConfig : PluginConfig {
  std::string root_path;  // default: the plugin's root

  void Describe(ConfigFields& f) override { f.Field("root_path", root_path); }
};

Result<std::shared_ptr<Plugin>> Init(InitContext& ic) {
  const auto& config = ic.Config<BtrfsConfig>();
  ic.meta().platforms.push_back(HostPlatform());
  const std::string root = config.root_path.empty() ? ic.root() : config.root_path;
  // As containerd does, the root is exported even when the plugin skips.
  ic.meta().exports["root"] = root;
  auto snapshotter = BtrfsSnapshotter::Open(root);
  if (!snapshotter.ok()) return snapshotter.status();
  return std::shared_ptr<Plugin>(std::move(*snapshotter));
}

void Register(Registrar& registrar) {
  Registration r;
  r.type = std::string(types::kSnapshotter);
  r.id = "btrfs";
  r.config = [] { return std::make_unique<BtrfsConfig>(); };
  r.init = Init;
  registrar.Add(std::move(r));
}

}  // namespace
}  // namespace berth::btrfs

BERTH_PLUGIN_LIBRARY(berth::btrfs::Register)
