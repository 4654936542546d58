// io.containerd.metadata.v1.leveldb: the metadata plugin. Requires the
// content type; opens <root>/meta.db (root = <daemon root>/
// io.containerd.metadata.v1.leveldb) and offers the MetadataStore and the
// namespaced content view to the services and to other metadata users.
//
// Thread-safe (see MetadataStore and NamespacedContentStore).
#ifndef BERTH_HOST_METADATA_PLUGIN_H_
#define BERTH_HOST_METADATA_PLUGIN_H_

#include <memory>
#include <string>

#include "berth/content.h"
#include "berth/plugin.h"
#include "builtins.h"
#include "metadata/content.h"
#include "metadata/db.h"

namespace berth::host::metadata {

class MetadataPlugin final : public Plugin {
 public:
  MetadataPlugin(std::unique_ptr<MetadataStore> db,
                 std::shared_ptr<ContentStore> content);
  ~MetadataPlugin() override;

  MetadataStore& db() { return *db_; }
  NamespacedContentStore& content() { return content_; }

 private:
  std::unique_ptr<MetadataStore> db_;
  NamespacedContentStore content_;
};

Result<std::shared_ptr<MetadataPlugin>> OpenMetadata(
    const std::string& root, std::shared_ptr<ContentStore> content);

}  // namespace berth::host::metadata

namespace berth::host {
Registration MetadataRegistration(HostEnv env);
}  // namespace berth::host

#endif  // BERTH_HOST_METADATA_PLUGIN_H_
