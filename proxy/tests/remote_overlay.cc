// Test fixture: io.containerd.snapshotter.v1.remote, the overlay snapshotter
// behaving as a remote snapshotter does under containerd's contract (as
// stargz does for lazily pulled layers).
//
// A Prepare or View carrying containerd.io/snapshot.ref=<target> and
// containerd.io/snapshot/remote=true "finds the layer remotely": the target
// is committed under the name <target> (with the request's labels), and the
// call answers AlreadyExists; a target already there answers AlreadyExists at
// once. Everything else is plain overlay. Served by berth-snapshotter in the
// proxy tests; never installed.
#include <memory>
#include <string>
#include <vector>

#include "berth/entry.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "overlay.h"

namespace berth::test {
namespace {

constexpr char kRemoteLabel[] = "containerd.io/snapshot/remote";

class RemoteOverlay final : public Snapshotter {
 public:
  explicit RemoteOverlay(std::shared_ptr<Snapshotter> inner) : inner_(std::move(inner)) {}

  Result<snapshots::Info> Stat(const std::string& key) override { return inner_->Stat(key); }
  Result<snapshots::Info> Update(const snapshots::Info& info,
                                 const std::vector<std::string>& paths) override {
    return inner_->Update(info, paths);
  }
  Result<snapshots::Usage> Usage(const std::string& key) override { return inner_->Usage(key); }
  Result<std::vector<Mount>> Mounts(const std::string& key) override { return inner_->Mounts(key); }
  Result<std::vector<Mount>> Prepare(const std::string& key, const std::string& parent,
                                     const snapshots::Labels& labels) override {
    if (Status s = FetchRemotely(key, parent, labels); !s.ok()) return s;
    return inner_->Prepare(key, parent, labels);
  }
  Result<std::vector<Mount>> View(const std::string& key, const std::string& parent,
                                  const snapshots::Labels& labels) override {
    if (Status s = FetchRemotely(key, parent, labels); !s.ok()) return s;
    return inner_->View(key, parent, labels);
  }
  Status Commit(const std::string& name, const std::string& key,
                const snapshots::Labels& labels) override {
    return inner_->Commit(name, key, labels);
  }
  Status Remove(const std::string& key) override { return inner_->Remove(key); }
  Status Walk(const snapshots::WalkFn& fn, const std::vector<std::string>& filters) override {
    return inner_->Walk(fn, filters);
  }
  Status Cleanup() override { return inner_->Cleanup(); }
  Status Close() override { return inner_->Close(); }

 private:
  // OK: not a remote layer, go on locally. AlreadyExists: the target is
  // committed (now or before). Anything else: the failure.
  Status FetchRemotely(const std::string& key, const std::string& parent,
                       const snapshots::Labels& labels) {
    auto ref = labels.find(std::string(snapshots::kLabelSnapshotRef));
    auto remote = labels.find(kRemoteLabel);
    if (ref == labels.end() || remote == labels.end() || remote->second != "true") {
      return Status::Ok();
    }
    const std::string& target = ref->second;
    if (inner_->Stat(target).ok()) {
      return Status::AlreadyExists("target snapshot \"" + target + "\"");
    }
    auto mounts = inner_->Prepare(key, parent, labels);
    if (!mounts.ok()) return mounts.status();
    Status committed = inner_->Commit(target, key, labels);
    if (!committed.ok()) {
      (void)inner_->Remove(key);
      return committed;
    }
    return Status::AlreadyExists("target snapshot \"" + target + "\"");
  }

  std::shared_ptr<Snapshotter> inner_;
};

void Register(Registrar& registrar) {
  Registration r;
  r.type = std::string(types::kSnapshotter);
  r.id = "remote";
  r.init = [](InitContext& ic) -> Result<std::shared_ptr<Plugin>> {
    auto inner = overlay::OverlaySnapshotter::Open(ic.root(), overlay::Options{});
    if (!inner.ok()) return inner.status();
    return std::shared_ptr<Plugin>(std::make_shared<RemoteOverlay>(std::move(*inner)));
  };
  registrar.Add(std::move(r));
}

}  // namespace
}  // namespace berth::test

BERTH_PLUGIN_LIBRARY(berth::test::Register)
