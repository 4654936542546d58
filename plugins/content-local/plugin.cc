// Registers io.containerd.content.v1.content: a LocalStore at the plugin's
// root ("<root>/io.containerd.content.v1.content").
#include "berth/entry.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "local_store.h"

namespace {

void Register(berth::Registrar& registrar) {
  berth::Registration r;
  r.type = std::string(berth::types::kContent);
  r.id = "content";
  r.init = [](berth::InitContext& ctx)
      -> berth::Result<std::shared_ptr<berth::Plugin>> {
    auto store = berth::content_local::LocalStore::Open(ctx.root());
    if (!store.ok()) return store.status();
    return std::shared_ptr<berth::Plugin>(std::move(*store));
  };
  registrar.Add(std::move(r));
}

}  // namespace

BERTH_PLUGIN_LIBRARY(Register)
