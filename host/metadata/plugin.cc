#include "metadata/plugin.h"

#include <utility>

#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "berth/snapshotter.h"
#include "berth/runner/log.h"
#include "metadata/failpoint.h"
#include "metadata/record_counts.h"
#include "metadata/views.h"

namespace berth::host::metadata {

MetadataPlugin::MetadataPlugin(std::unique_ptr<MetadataStore> db,
                               std::shared_ptr<ContentStore> content)
    : db_(std::move(db)),
      content_(db_.get(), std::move(content)),
      leases_(db_.get()),
      containers_(db_.get()),
      images_(db_.get()) {
  AddGcKind(std::string(kContainersKind), ScanContainerForGc);
  AddGcKind(std::string(kImagesKind), ScanImageForGc);
}

MetadataPlugin::~MetadataPlugin() = default;

NamespacedSnapshotter& MetadataPlugin::AddSnapshotter(const std::string& id,
                                                      std::shared_ptr<Snapshotter> backend) {
  auto namespaced = std::make_unique<NamespacedSnapshotter>(db_.get(), id, std::move(backend));
  return *(snapshotters_[id] = std::move(namespaced));
}

NamespacedSnapshotter* MetadataPlugin::snapshotter(const std::string& id) {
  auto it = snapshotters_.find(id);
  return it == snapshotters_.end() ? nullptr : it->second.get();
}

Result<std::shared_ptr<ContentStore>> MetadataPlugin::ContentFor(const CallContext& call) {
  return std::shared_ptr<ContentStore>(std::make_shared<ContentView>(&content_, call));
}

Result<std::shared_ptr<Snapshotter>> MetadataPlugin::SnapshotterFor(const CallContext& call,
                                                                   const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("snapshotter argument missing");
  NamespacedSnapshotter* sn = snapshotter(name);
  if (sn == nullptr) return Status::InvalidArgument("snapshotter not loaded: " + name);
  return std::shared_ptr<Snapshotter>(std::make_shared<SnapshotterView>(sn, call));
}

std::vector<std::string> MetadataPlugin::SnapshotterNames() const {
  std::vector<std::string> names;
  for (const auto& entry : snapshotters_) names.push_back(entry.first);
  return names;
}

Result<Namespace> MetadataPlugin::GetNamespace(std::string_view name) {
  return db_->GetNamespace(name);
}
Result<std::vector<Namespace>> MetadataPlugin::ListNamespaces() { return db_->ListNamespaces(); }
Status MetadataPlugin::CreateNamespace(const Namespace& ns) { return db_->CreateNamespace(ns); }
Result<Namespace> MetadataPlugin::UpdateNamespace(const Namespace& ns,
                                                  const std::vector<std::string>& fieldpaths) {
  return db_->UpdateNamespace(ns, fieldpaths);
}
Status MetadataPlugin::DeleteNamespace(std::string_view name) { return db_->DeleteNamespace(name); }

Result<Lease> MetadataPlugin::CreateLease(std::string_view ns, const std::string& id,
                                          const Labels& labels) {
  return leases_.Create(ns, id, labels);
}
Status MetadataPlugin::DeleteLease(std::string_view ns, const std::string& id) {
  return leases_.Delete(ns, id);
}
Result<std::vector<Lease>> MetadataPlugin::ListLeases(std::string_view ns,
                                                      const filters::Filter& filter) {
  return leases_.List(ns, filter);
}
Status MetadataPlugin::AddLeaseResource(std::string_view ns, const std::string& id,
                                        const LeaseResource& r) {
  return leases_.AddResource(ns, id, r);
}
Status MetadataPlugin::DeleteLeaseResource(std::string_view ns, const std::string& id,
                                           const LeaseResource& r) {
  return leases_.DeleteResource(ns, id, r);
}
Result<std::vector<LeaseResource>> MetadataPlugin::ListLeaseResources(std::string_view ns,
                                                                      const std::string& id) {
  return leases_.ListResources(ns, id);
}

Result<Container> MetadataPlugin::GetContainer(std::string_view ns, std::string_view id) {
  return containers_.Get(ns, id);
}
Result<std::vector<Container>> MetadataPlugin::ListContainers(std::string_view ns,
                                                              const filters::Filter& filter) {
  return containers_.List(ns, filter);
}
Result<Container> MetadataPlugin::CreateContainer(std::string_view ns, const Container& c) {
  return containers_.Create(ns, c);
}
Result<Container> MetadataPlugin::UpdateContainer(std::string_view ns, const Container& c,
                                                  const std::vector<std::string>& fieldpaths) {
  return containers_.Update(ns, c, fieldpaths);
}
Status MetadataPlugin::DeleteContainer(std::string_view ns, std::string_view id) {
  return containers_.Delete(ns, id);
}

Result<Image> MetadataPlugin::GetImage(std::string_view ns, std::string_view name) {
  return images_.Get(ns, name);
}
Result<std::vector<Image>> MetadataPlugin::ListImages(std::string_view ns,
                                                      const filters::Filter& filter) {
  return images_.List(ns, filter);
}
Result<Image> MetadataPlugin::CreateImage(std::string_view ns, const Image& image) {
  return images_.Create(ns, image);
}
Result<Image> MetadataPlugin::UpdateImage(std::string_view ns, const Image& image,
                                          const std::vector<std::string>& fieldpaths) {
  return images_.Update(ns, image, fieldpaths);
}
Status MetadataPlugin::DeleteImage(std::string_view ns, std::string_view name) {
  return images_.Delete(ns, name);
}

void MetadataPlugin::OnMutation(std::function<void(bool deletion)> fn) {
  db_->OnMutation(std::move(fn));
}

void MetadataPlugin::AddGcKind(std::string kind, GcKindScanner scanner) {
  gc_kinds_[std::move(kind)] = std::move(scanner);
}

std::string MetadataPlugin::MetricsText() { return RecordCountsText(*db_); }

Status MetadataPlugin::Close() {
  backend_runner_.Stop();
  return Status::Ok();
}

std::map<std::string, GcBackendRunner::Job> MetadataPlugin::BackendJobs(
    const std::set<std::string>& dirty, bool all) {
  std::map<std::string, GcBackendRunner::Job> jobs;
  MetadataStore* db = db_.get();
  const std::string content(kContentBackend);
  if (all || dirty.count(content)) {
    jobs[content] = [this, db, content] {
      GcBackendRunner::Outcome out;
      auto counts = content_.CollectBackend();
      if (!counts.ok()) {
        out.status = counts.status();
        db->MarkDirty(content);  // try again next time
        log::Warn("content cleanup failed", {{"error", out.status.ToString()}});
        return out;
      }
      out.blobs = counts->blobs;
      out.ingests = counts->ingests;
      out.errors = counts->errors;
      if (out.errors > 0) db->MarkDirty(content);
      return out;
    };
  }
  for (auto& [id, sn] : snapshotters_) {
    const std::string backend = SnapshotterBackend(id);
    if (!all && !dirty.count(backend)) continue;
    NamespacedSnapshotter* target = sn.get();
    jobs[backend] = [db, target, backend] {
      GcBackendRunner::Outcome out;
      NamespacedSnapshotter::CleanupCounts counts;
      out.status = target->Cleanup(&counts);
      out.snapshots = counts.removed;
      out.errors = counts.errors;
      if (!out.status.ok() || out.errors > 0) db->MarkDirty(backend);
      if (!out.status.ok()) {
        log::Warn("snapshot cleanup failed",
                  {{"snapshotter", target->name()}, {"error", out.status.ToString()}});
      }
      return out;
    };
  }
  return jobs;
}

Result<gc::Stats> MetadataPlugin::GarbageCollect() {
  using Clock = std::chrono::steady_clock;
  MutexLock run(&gc_run_mu_);
  gc::Stats stats;
  std::set<std::string> dirty;
  MutationCounts changes;
  {
    // Changes wait from here to the end of the sweep; reads go on.
    WriterLock collect(&db_->collection_mutex());
    const auto start = Clock::now();
    GcCollection collection;
    BERTH_RETURN_IF_ERROR(collection.Mark(*db_, gc_kinds_, std::chrono::system_clock::now()));
    const auto marked = Clock::now();
    leveldb::WriteBatch batch;
    GcSweepCounts swept;
    collection.Sweep(batch, swept, dirty);
    if (swept.records > 0) {
      MutexLock write(&db_->write_mutex());
      BERTH_RETURN_IF_ERROR(db_->Write(batch));
    }
    stats.mark = marked - start;
    stats.sweep = Clock::now() - marked;
    stats.records_removed = swept.records;
    stats.leases_removed = swept.leases;
    changes = db_->TakeMutations();
  }
  dirty.insert(changes.dirty.begin(), changes.dirty.end());
  // The backends, outside the pause: the sweep is durable, so a crash from
  // here on leaves only storage no record names, which the next run frees.
  const auto backend_start = Clock::now();
  GcBackendRunner::Summary summary =
      backend_runner_.Run(BackendJobs(dirty, changes.all_dirty), backend_wait_);
  stats.backend = Clock::now() - backend_start;
  for (const std::string& name : summary.busy) db_->MarkDirty(name);
  for (const std::string& name : summary.pending) {
    log::Warn("backend cleanup still running", {{"backend", name}});
  }
  stats.content_removed = summary.total.blobs;
  stats.ingests_removed = summary.total.ingests;
  stats.snapshots_removed = summary.total.snapshots;
  stats.backend_errors = summary.total.errors + static_cast<std::int64_t>(summary.failed.size());
  stats.backends_pending = static_cast<std::int64_t>(summary.pending.size());
  return stats;
}

Result<std::shared_ptr<MetadataPlugin>> OpenMetadata(const std::string& root,
                                                     std::shared_ptr<ContentStore> content) {
  auto db = MetadataStore::Open(root + "/meta.db");
  if (!db.ok()) return db.status();
  return std::make_shared<MetadataPlugin>(std::move(*db), std::move(content));
}

namespace {

// The id of content-local, io.containerd.content.v1.content.
constexpr char kDefaultContentStore[] = "content";

// The content store per MetadataConfig::content_store (see plugin.h).
Result<std::shared_ptr<ContentStore>> ChooseContentStore(InitContext& ctx,
                                                         const std::string& named) {
  if (!named.empty()) {
    auto chosen = ctx.GetByIDAs<ContentStore>(types::kContent, named);
    if (!chosen.ok()) return chosen.status().Annotate("content_store \"" + named + "\"");
    return chosen;
  }
  auto all = ctx.GetAll(types::kContent);
  if (all.empty()) return Status::NotFound("no content store is loaded");
  auto it = all.find(kDefaultContentStore);
  if (it == all.end()) it = all.begin();
  auto store = std::dynamic_pointer_cast<ContentStore>(it->second);
  if (!store) return Status::InvalidArgument("content plugin " + it->first + " is no content store");
  if (all.size() > 1) {
    ctx.log().Info("several content stores are loaded; using \"" + it->first +
                   "\" (set content_store to choose)");
  }
  return store;
}

// Wraps every loaded snapshotter and repairs what a crash left: first the
// changes a crash interrupted (their intents, rolled forward or back; each
// repair is logged), then storage without a record (and records without
// storage), which may stop a snapshotter from handing out new snapshots
// cleanly: each is cleaned up once before serving, as containerd's first
// garbage collection does.
void AddSnapshotters(InitContext& ctx, MetadataPlugin& md) {
  for (auto& [id, plugin] : ctx.GetAll(types::kSnapshotter)) {
    auto sn = std::dynamic_pointer_cast<Snapshotter>(plugin);
    if (!sn) continue;
    NamespacedSnapshotter& namespaced = md.AddSnapshotter(id, std::move(sn));
    Status recovered = namespaced.Recover();
    if (!recovered.ok()) {
      ctx.log().Warn("recovery of snapshotter " + id + " failed: " + recovered.ToString());
    }
    NamespacedSnapshotter::CleanupCounts counts;
    Status cleaned = namespaced.Cleanup(&counts);
    if (cleaned.ok() && counts.removed > 0) {
      ctx.log().Info("start-up cleanup of snapshotter " + id + " removed " +
                     std::to_string(counts.removed) + " backend snapshots no record names");
    }
    if (!cleaned.ok()) {
      ctx.log().Warn("cleanup of snapshotter " + id + " failed: " + cleaned.ToString());
    }
  }
}

}  // namespace
}  // namespace berth::host::metadata

namespace berth::host {

Registration MetadataRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kMetadata);
  r.id = "leveldb";
  r.required_types = {std::string(types::kContent)};
  r.optional_types = {std::string(types::kSnapshotter)};
  r.config = [] { return std::make_unique<metadata::MetadataConfig>(); };
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    const auto& config = ctx.Config<metadata::MetadataConfig>();
    auto content = metadata::ChooseContentStore(ctx, config.content_store);
    if (!content.ok()) return content.status();
    if (!failpoint::Armed().empty()) {
      ctx.log().Warn(std::string(failpoint::kEnvironmentVariable) + " arms the failpoint \"" +
                     failpoint::Armed() + "\": berthd exits with 137 when it gets there");
    }
    auto md = metadata::OpenMetadata(ctx.root(), std::move(*content));
    if (!md.ok()) return md.status();
    Status recovered = (*md)->content().Recover();
    if (!recovered.ok()) ctx.log().Warn("recovery of content commits failed: " + recovered.ToString());
    metadata::AddSnapshotters(ctx, **md);
    return std::shared_ptr<Plugin>(std::move(*md));
  };
  return r;
}

}  // namespace berth::host
