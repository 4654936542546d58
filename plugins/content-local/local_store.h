// LocalStore: the content store on the local filesystem, in containerd's
// layout under its root:
//
//   blobs/sha256/<hex>                 committed blobs, read-only (0444)
//   ingest/<sha256 hex of ref>/        one folder per ingest:
//       ref        the ref, verbatim
//       data       the bytes written so far
//       startedat  RFC 3339 time the ingest began
//       updatedat  RFC 3339 time of the last write (refreshed on close)
//       total      the declared size, when one was given
//
// A commit fsyncs the data, verifies size then digest, drops the write bits
// and renames the file into blobs/ (atomic: no partial blob is ever visible
// there), then fsyncs blobs/sha256 and removes the ingest folder.
//
// Thread-safe. One writer per ref at a time (RefLocks); a second gets
// Unavailable. The store owns nothing a writer needs except the lock table,
// which writers share, so a writer may safely outlive a store.
#ifndef BERTH_PLUGINS_CONTENT_LOCAL_LOCAL_STORE_H_
#define BERTH_PLUGINS_CONTENT_LOCAL_LOCAL_STORE_H_

#include <map>
#include <memory>
#include <string>

#include "berth/content.h"
#include "berth/digest.h"
#include "berth/mutex.h"

namespace berth::content_local {

// The set of refs with an open writer, and since when.
class RefLocks {
 public:
  // Unavailable "ref <ref> locked since <time>" when already held.
  Status Lock(const std::string& ref) BERTH_EXCLUDES(mu_);
  void Unlock(const std::string& ref) BERTH_EXCLUDES(mu_);

 private:
  Mutex mu_;
  std::map<std::string, Timestamp> held_ BERTH_GUARDED_BY(mu_);
};

class LocalStore : public ContentStore {
 public:
  // Creates blobs/sha256 and ingest/ under `root` as needed.
  static Result<std::shared_ptr<LocalStore>> Open(const std::string& root);

  Result<ContentInfo> Info(std::string_view digest) override;
  // FailedPrecondition: the local store keeps no labels (the metadata
  // store does, per namespace).
  Result<ContentInfo> Update(const ContentInfo& info,
                             const std::vector<std::string>& fieldpaths) override;
  Status Walk(const filters::Filter& filter,
              const std::function<Status(const ContentInfo&)>& fn) override;
  Status Delete(std::string_view digest) override;
  Result<std::unique_ptr<ContentReader>> ReaderAt(std::string_view digest) override;
  Result<std::unique_ptr<ContentWriter>> Writer(const WriterOptions& options) override;
  Result<IngestStatus> GetStatus(std::string_view ref) override;
  Result<std::vector<IngestStatus>> ListStatuses(
      const filters::Filter& filter) override;
  Status Abort(std::string_view ref) override;

  const std::string& root() const { return root_; }
  std::string BlobPath(std::string_view digest) const;  // REQUIRES: valid digest
  std::string IngestPath(std::string_view ref) const;

 private:
  explicit LocalStore(std::string root);
  Result<IngestStatus> ReadStatus(const std::string& dir) const;

  const std::string root_;
  std::shared_ptr<RefLocks> locks_ = std::make_shared<RefLocks>();
};

}  // namespace berth::content_local

#endif  // BERTH_PLUGINS_CONTENT_LOCAL_LOCAL_STORE_H_
