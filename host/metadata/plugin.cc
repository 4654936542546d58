#include "metadata/plugin.h"

#include "berth/init_context.h"
#include "berth/plugin_types.h"

namespace berth::host::metadata {

MetadataPlugin::MetadataPlugin(std::unique_ptr<MetadataStore> db,
                               std::shared_ptr<ContentStore> content)
    : db_(std::move(db)), content_(db_.get(), std::move(content)) {}

MetadataPlugin::~MetadataPlugin() = default;

Result<std::shared_ptr<MetadataPlugin>> OpenMetadata(
    const std::string& root, std::shared_ptr<ContentStore> content) {
  auto db = MetadataStore::Open(root + "/meta.db");
  if (!db.ok()) return db.status();
  return std::make_shared<MetadataPlugin>(std::move(*db), std::move(content));
}

}  // namespace berth::host::metadata

namespace berth::host {

Registration MetadataRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kMetadata);
  r.id = "leveldb";
  r.required_types = {std::string(types::kContent)};
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto content = ctx.GetAs<ContentStore>(types::kContent);
    if (!content.ok()) return content.status().Annotate("content store");
    auto md = metadata::OpenMetadata(ctx.root(), std::move(*content));
    if (!md.ok()) return md.status();
    return std::shared_ptr<Plugin>(std::move(*md));
  };
  return r;
}

}  // namespace berth::host
