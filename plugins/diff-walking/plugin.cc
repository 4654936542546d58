// Registers io.containerd.differ.v1.walking.
#include <memory>
#include <string>

#include "berth/entry.h"
#include "berth/init_context.h"
#include "berth/platform.h"
#include "berth/plugin_types.h"
#include "walking.h"

namespace berth::diff_walking {
namespace {

struct WalkingConfig : PluginConfig {
  std::string temp_dir;  // default "": $TMPDIR, else /tmp

  void Describe(ConfigFields& f) override { f.Field("temp_dir", temp_dir); }
};

Result<std::shared_ptr<Plugin>> Init(InitContext& ic) {
  const auto& config = ic.Config<WalkingConfig>();
  ic.meta().platforms.push_back(HostPlatform());
  WalkingOptions options;
  options.temp_dir = config.temp_dir;
  return std::shared_ptr<Plugin>(std::make_shared<WalkingDiffer>(std::move(options)));
}

void Register(Registrar& registrar) {
  Registration r;
  r.type = std::string(types::kDiffer);
  r.id = "walking";
  r.config = [] { return std::make_unique<WalkingConfig>(); };
  r.init = Init;
  registrar.Add(std::move(r));
}

}  // namespace
}  // namespace berth::diff_walking

BERTH_PLUGIN_LIBRARY(berth::diff_walking::Register)
