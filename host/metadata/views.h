// One client's view of the namespaced stores: a Snapshotter and a
// ContentStore (the SDK interfaces) bound to a namespace and a lease, so
// that the SDK's servers (berth/grpc/serve.h) and plugins (a differ, the
// runtime) use berthd's metadata through the same faces as any backend.
// The services' resolvers make one per call; it is cheap (three words and
// two strings).
//
// Ownership: a view refers to its NamespacedSnapshotter or
// NamespacedContentStore, which the metadata plugin owns and which outlive
// every call. Thread-safe as what it refers to.
#ifndef BERTH_HOST_METADATA_VIEWS_H_
#define BERTH_HOST_METADATA_VIEWS_H_

#include <memory>
#include <string>
#include <vector>

#include "berth/call_context.h"
#include "berth/content.h"
#include "berth/locality.h"
#include "berth/snapshotter.h"
#include "metadata/content.h"
#include "metadata/snapshots.h"

namespace berth::host::metadata {

class SnapshotterView final : public Snapshotter, public RemoteBackend {
 public:
  SnapshotterView(NamespacedSnapshotter* sn, const CallContext& call)
      : sn_(sn), ns_(call.ns), lease_(call.lease) {}

  bool CallsAnotherProcess() const override {
    return berth::CallsAnotherProcess(sn_->backend());
  }

  Result<snapshots::Info> Stat(const std::string& key) override;
  Result<snapshots::Info> Update(const snapshots::Info& info,
                                 const std::vector<std::string>& fieldpaths) override;
  Result<snapshots::Usage> Usage(const std::string& key) override;
  Result<std::vector<Mount>> Mounts(const std::string& key) override;
  Result<std::vector<Mount>> Prepare(const std::string& key, const std::string& parent,
                                     const snapshots::Labels& labels) override;
  Result<std::vector<Mount>> View(const std::string& key, const std::string& parent,
                                  const snapshots::Labels& labels) override;
  Status Commit(const std::string& name, const std::string& key,
                const snapshots::Labels& labels) override;
  Status Remove(const std::string& key) override;
  Status Walk(const snapshots::WalkFn& fn, const std::vector<std::string>& filters) override;
  // The whole snapshotter's cleanup (every namespace), as containerd's
  // snapshots service does it.
  Status Cleanup() override;

 private:
  NamespacedSnapshotter* sn_;
  std::string ns_;
  std::string lease_;
};

class ContentView final : public ContentStore, public RemoteBackend {
 public:
  ContentView(NamespacedContentStore* store, const CallContext& call)
      : store_(store), ns_(call.ns), lease_(call.lease) {}

  bool CallsAnotherProcess() const override {
    return berth::CallsAnotherProcess(store_->backend());
  }

  Result<ContentInfo> Info(std::string_view digest) override;
  Result<ContentInfo> Update(const ContentInfo& info,
                             const std::vector<std::string>& fieldpaths) override;
  Status Walk(const filters::Filter& filter,
              const std::function<Status(const ContentInfo&)>& fn) override;
  Status Delete(std::string_view digest) override;
  Result<std::unique_ptr<ContentReader>> ReaderAt(std::string_view digest) override;
  Result<std::unique_ptr<ContentWriter>> Writer(const WriterOptions& options) override;
  Result<IngestStatus> GetStatus(std::string_view ref) override;
  Result<std::vector<IngestStatus>> ListStatuses(const filters::Filter& filter) override;
  Status Abort(std::string_view ref) override;

 private:
  NamespacedContentStore* store_;
  std::string ns_;
  std::string lease_;
};

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_VIEWS_H_
