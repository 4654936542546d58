// io.containerd.internal.v1.example-hello: the smallest useful berth plugin.
// It declares a typed config, reads it at init, and publishes what it read in
// its exports, where `ctr plugins ls --detailed` shows it.
#include <berth/entry.h>
#include <berth/init_context.h>
#include <berth/plugin_types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace {

// [plugins."io.containerd.internal.v1.example-hello"]
struct ExampleHelloConfig : berth::PluginConfig {
  std::string greeting = "hello from outside the tree";
  std::int64_t volume = 1;

  void Describe(berth::ConfigFields& fields) override {
    fields.Field("greeting", greeting);
    fields.Field("volume", volume);
  }
};

class ExampleHello : public berth::Plugin {};

berth::Result<std::shared_ptr<berth::Plugin>> Init(
    berth::InitContext& context) {
  const auto& config = context.Config<ExampleHelloConfig>();
  if (config.volume < 0) {
    return berth::Status::InvalidArgument("volume must not be negative");
  }
  context.meta().exports["greeting"] = config.greeting;
  context.meta().exports["volume"] = std::to_string(config.volume);
  context.log().Info("example-hello ready");
  return std::shared_ptr<berth::Plugin>(std::make_shared<ExampleHello>());
}

void Register(berth::Registrar& registrar) {
  berth::Registration registration;
  registration.type = std::string(berth::types::kInternal);
  registration.id = "example-hello";
  registration.config = [] { return std::make_unique<ExampleHelloConfig>(); };
  registration.init = &Init;
  registrar.Add(std::move(registration));
}

}  // namespace

BERTH_PLUGIN_LIBRARY(Register)
