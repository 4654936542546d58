// A plugin that does nothing, whose id is its own file name: copies of this
// one library under different names register different plugins, which is
// how the boot benchmark loads hundreds of them.
#include <dlfcn.h>

#include <filesystem>
#include <memory>

#include "berth/berth.h"

namespace {

class Trivial : public berth::Plugin {};

std::string OwnStem() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&OwnStem), &info) == 0 || info.dli_fname == nullptr) {
    return "trivial";
  }
  return std::filesystem::path(info.dli_fname).stem().string();
}

void Register(berth::Registrar& registrar) {
  berth::Registration r;
  r.type = std::string(berth::types::kInternal);
  r.id = OwnStem();
  r.init = [](berth::InitContext&) -> berth::Result<std::shared_ptr<berth::Plugin>> {
    return std::shared_ptr<berth::Plugin>(std::make_shared<Trivial>());
  };
  registrar.Add(std::move(r));
}

}  // namespace

BERTH_PLUGIN_LIBRARY(Register)
