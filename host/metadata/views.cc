#include "metadata/views.h"

namespace berth::host::metadata {

Result<snapshots::Info> SnapshotterView::Stat(const std::string& key) {
  return sn_->Stat(ns_, key);
}

Result<snapshots::Info> SnapshotterView::Update(const snapshots::Info& info,
                                                const std::vector<std::string>& fieldpaths) {
  return sn_->Update(ns_, info, fieldpaths);
}

Result<snapshots::Usage> SnapshotterView::Usage(const std::string& key) {
  return sn_->Usage(ns_, key);
}

Result<std::vector<Mount>> SnapshotterView::Mounts(const std::string& key) {
  return sn_->Mounts(ns_, key);
}

Result<std::vector<Mount>> SnapshotterView::Prepare(const std::string& key,
                                                    const std::string& parent,
                                                    const snapshots::Labels& labels) {
  return sn_->Prepare(ns_, key, parent, labels, lease_);
}

Result<std::vector<Mount>> SnapshotterView::View(const std::string& key,
                                                 const std::string& parent,
                                                 const snapshots::Labels& labels) {
  return sn_->View(ns_, key, parent, labels, lease_);
}

Status SnapshotterView::Commit(const std::string& name, const std::string& key,
                               const snapshots::Labels& labels) {
  return sn_->Commit(ns_, name, key, labels, lease_);
}

Status SnapshotterView::Remove(const std::string& key) { return sn_->Remove(ns_, key, lease_); }

Status SnapshotterView::Walk(const snapshots::WalkFn& fn,
                             const std::vector<std::string>& filters) {
  return sn_->Walk(ns_, filters, fn);
}

Status SnapshotterView::Cleanup() { return sn_->Cleanup(); }

Result<ContentInfo> ContentView::Info(std::string_view digest) { return store_->Info(ns_, digest); }

Result<ContentInfo> ContentView::Update(const ContentInfo& info,
                                        const std::vector<std::string>& fieldpaths) {
  return store_->Update(ns_, info, fieldpaths);
}

Status ContentView::Walk(const filters::Filter& filter,
                         const std::function<Status(const ContentInfo&)>& fn) {
  return store_->Walk(ns_, filter, fn);
}

Status ContentView::Delete(std::string_view digest) { return store_->Delete(ns_, digest, lease_); }

Result<std::unique_ptr<ContentReader>> ContentView::ReaderAt(std::string_view digest) {
  return store_->ReaderAt(ns_, digest);
}

Result<std::unique_ptr<ContentWriter>> ContentView::Writer(const WriterOptions& options) {
  return store_->Writer(ns_, options, lease_);
}

Result<IngestStatus> ContentView::GetStatus(std::string_view ref) {
  return store_->GetStatus(ns_, ref);
}

Result<std::vector<IngestStatus>> ContentView::ListStatuses(const filters::Filter& filter) {
  return store_->ListStatuses(ns_, filter);
}

Status ContentView::Abort(std::string_view ref) { return store_->Abort(ns_, ref, lease_); }

}  // namespace berth::host::metadata
