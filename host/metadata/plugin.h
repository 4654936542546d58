// io.containerd.metadata.v1.leveldb: the metadata plugin. Requires the
// content and snapshotter types; opens <root>/meta.db (root = <daemon root>/
// io.containerd.metadata.v1.leveldb) and offers the MetadataStore, the
// namespaced content view and one namespaced view per snapshotter to the
// services and to other metadata users.
//
// Which content store: when several io.containerd.content.v1 plugins are
// loaded (content-local, id "content", and proxies, say), the config key
// `content_store` names the one to use. Unset, the choice is deterministic:
// "content" when it is loaded, otherwise the first by id; the choice is logged
// whenever there was more than one candidate.
//
// Garbage collection: the plugin is the daemon's GarbageCollector
// (berth/gc.h). GarbageCollect marks and sweeps the records (gc.h) with
// changes paused (reads go on), then frees the backends' storage outside
// that pause: the content store when blobs or ingests lost a record, each
// snapshotter that lost one (and every backend on the first run, which also
// collects what a crash left). Each backend's part runs on its own thread
// (GcBackendRunner); a collection waits for them up to backend_wait().
//
// Services and plugins use it through its SDK faces (berth/metadata.h,
// leases.h, gc.h, containers.h, images.h): each call's namespaced views,
// namespaces, leases, containers, images and collection. Containers and
// images are gc kinds of their own (ScanContainerForGc, ScanImageForGc),
// registered at construction.
//
// Thread-safe (see MetadataStore, NamespacedContentStore and
// NamespacedSnapshotter); collections are serialised. The snapshotter map
// and the gc kinds are fixed at init.
#ifndef BERTH_HOST_METADATA_PLUGIN_H_
#define BERTH_HOST_METADATA_PLUGIN_H_

#include <chrono>
#include <map>
#include <memory>
#include "berth/mutex.h"
#include <string>

#include "berth/config.h"
#include "berth/containers.h"
#include "berth/content.h"
#include "berth/gc.h"
#include "berth/images.h"
#include "berth/leases.h"
#include "berth/metadata.h"
#include "berth/metrics_source.h"
#include "berth/plugin.h"
#include "builtins.h"
#include "metadata/containers.h"
#include "metadata/content.h"
#include "metadata/db.h"
#include "metadata/gc.h"
#include "metadata/gc_backend.h"
#include "metadata/images.h"
#include "metadata/leases.h"
#include "metadata/snapshots.h"

namespace berth::host::metadata {

struct MetadataConfig : PluginConfig {
  // The id of the io.containerd.content.v1 plugin to store blobs in; "" picks
  // as described above.
  std::string content_store;
  void Describe(ConfigFields& f) override { f.Field("content_store", content_store); }
};

using SnapshotterMap = std::map<std::string, std::unique_ptr<NamespacedSnapshotter>>;

class MetadataPlugin final : public GarbageCollector,
                             public NamespacedStores,
                             public NamespaceStore,
                             public LeaseManager,
                             public ContainerStore,
                             public ImageStore,
                             public MetricsSource {
 public:
  MetadataPlugin(std::unique_ptr<MetadataStore> db, std::shared_ptr<ContentStore> content);
  ~MetadataPlugin() override;

  MetadataStore& db() { return *db_; }
  NamespacedContentStore& content() { return content_; }
  LeaseStore& leases() { return leases_; }
  ContainerRecords& containers() { return containers_; }
  ImageRecords& images() { return images_; }

  // Wraps `backend` as the snapshotter `id` (before serving starts).
  NamespacedSnapshotter& AddSnapshotter(const std::string& id,
                                        std::shared_ptr<Snapshotter> backend);
  // The snapshotter `id`, or nullptr.
  NamespacedSnapshotter* snapshotter(const std::string& id);
  const SnapshotterMap& snapshotters() const { return snapshotters_; }

  // --- NamespacedStores ---
  Result<std::shared_ptr<ContentStore>> ContentFor(const CallContext& call) override;
  Result<std::shared_ptr<Snapshotter>> SnapshotterFor(const CallContext& call,
                                                      const std::string& name) override;
  std::vector<std::string> SnapshotterNames() const override;

  // --- NamespaceStore ---
  Result<Namespace> GetNamespace(std::string_view name) override;
  Result<std::vector<Namespace>> ListNamespaces() override;
  Status CreateNamespace(const Namespace& ns) override;
  Result<Namespace> UpdateNamespace(const Namespace& ns,
                                    const std::vector<std::string>& fieldpaths) override;
  Status DeleteNamespace(std::string_view name) override;

  // --- LeaseManager ---
  Result<Lease> CreateLease(std::string_view ns, const std::string& id,
                            const Labels& labels) override;
  Status DeleteLease(std::string_view ns, const std::string& id) override;
  Result<std::vector<Lease>> ListLeases(std::string_view ns,
                                        const filters::Filter& filter) override;
  Status AddLeaseResource(std::string_view ns, const std::string& id,
                          const LeaseResource& r) override;
  Status DeleteLeaseResource(std::string_view ns, const std::string& id,
                             const LeaseResource& r) override;
  Result<std::vector<LeaseResource>> ListLeaseResources(std::string_view ns,
                                                        const std::string& id) override;

  // --- ContainerStore ---
  Result<Container> GetContainer(std::string_view ns, std::string_view id) override;
  Result<std::vector<Container>> ListContainers(std::string_view ns,
                                                const filters::Filter& filter) override;
  Result<Container> CreateContainer(std::string_view ns, const Container& c) override;
  Result<Container> UpdateContainer(std::string_view ns, const Container& c,
                                    const std::vector<std::string>& fieldpaths) override;
  Status DeleteContainer(std::string_view ns, std::string_view id) override;

  // --- ImageStore ---
  Result<Image> GetImage(std::string_view ns, std::string_view name) override;
  Result<std::vector<Image>> ListImages(std::string_view ns,
                                        const filters::Filter& filter) override;
  Result<Image> CreateImage(std::string_view ns, const Image& image) override;
  Result<Image> UpdateImage(std::string_view ns, const Image& image,
                            const std::vector<std::string>& fieldpaths) override;
  Status DeleteImage(std::string_view ns, std::string_view name) override;

  // --- GarbageCollector ---
  Result<gc::Stats> GarbageCollect() override;
  void OnMutation(std::function<void(bool deletion)> fn) override;

  // Adds a kind of record that keeps things alive (containers, images; see
  // GcKindScanner). Before serving starts.
  void AddGcKind(std::string kind, GcKindScanner scanner);
  // How long GarbageCollect waits for the backends (default 60 s); a backend
  // still busy then is reported in Stats::backends_pending.
  std::chrono::milliseconds backend_wait() const { return backend_wait_; }
  void set_backend_wait(std::chrono::milliseconds wait) { backend_wait_ = wait; }

  // --- MetricsSource: the record counts (metadata/record_counts.h) ---
  std::string MetricsText() override;

  // Waits for running backend cleanups.
  Status Close() override;

 private:
  // The backend jobs for the dirty backends (all when `all`).
  std::map<std::string, GcBackendRunner::Job> BackendJobs(const std::set<std::string>& dirty,
                                                          bool all);

  std::unique_ptr<MetadataStore> db_;
  NamespacedContentStore content_;
  LeaseStore leases_;
  ContainerRecords containers_;
  ImageRecords images_;
  SnapshotterMap snapshotters_;
  GcKindScanners gc_kinds_;
  Mutex gc_run_mu_;  // serialises collections (guards no member)
  std::chrono::milliseconds backend_wait_{60000};
  GcBackendRunner backend_runner_;  // last: its jobs use the stores above
};

Result<std::shared_ptr<MetadataPlugin>> OpenMetadata(const std::string& root,
                                                     std::shared_ptr<ContentStore> content);

}  // namespace berth::host::metadata

namespace berth::host {
Registration MetadataRegistration(HostEnv env);
}  // namespace berth::host

#endif  // BERTH_HOST_METADATA_PLUGIN_H_
