// NamespacedContentStore: each namespace's view of the one shared content
// store, as containerd's metadata layer gives it (shared content policy).
//
// - A namespace sees a blob only once it was committed (or, for a blob that
//   already exists, referenced by a commit) in that namespace; its record
//   (v1/n/<ns>/content/blob/<digest>) holds that namespace's labels.
// - Opening a writer with an expected digest the namespace already has is
//   AlreadyExists. If another namespace has it, the writer starts at the
//   blob's end and a commit only adds the record — the bytes are not sent
//   again. Writing anyway copies the blob into a fresh ingest first.
// - Ingest refs are per namespace: the backend sees "<ns>/<ref>". Opening a
//   writer records the ingest (v1/n/<ns>/content/ingest/<ref>, db.h): held by
//   the caller's lease while it lives, or else kept by garbage collection for
//   24 hours from the last open (containerd's rule). Commit and Abort drop
//   the record.
// - Leases: a writer opened with a lease puts the ingest in the lease, and
//   its commit the blob; Delete and Abort drop the caller's lease's hold. A
//   lease that does not exist is NotFound.
// - Delete removes only the namespace's record (as containerd does): the
//   blob stays on disk until a garbage collection finds that no record and no
//   ingest refers to it (CollectBackend).
//
// - Crash safety: a commit that publishes a blob changes two stores, the
//   backend (the ingest becomes the blob) and this database (the blob's
//   record, the ingest record's end). It writes an intent first (intents.h,
//   synced: namespace, ref, digest, size, lease, labels), then commits in the
//   backend, then writes the record change and the intent's deletion in one
//   batch. Recover resolves an intent a kill left by asking the backend for
//   the blob: there, the commit rolls forward (the record is written as the
//   commit would have written it); absent, it rolls back (the intent goes,
//   the ingest stays and resumes). Each repair is logged (warn). The
//   metadata plugin calls Recover at init, before any collection;
//   CollectBackend recovers first too and never removes a blob an intent it
//   could not resolve names. A commit whose blob another namespace already
//   has publishes nothing in the backend and writes one batch: no intent.
//
// Thread-safe: metadata changes go through MetadataStore's locks (db.h); the
// backend is thread-safe. Writers open and commit holding backend_mutex()
// shared, so that CollectBackend and Recover, which hold it exclusively,
// never meet a blob or an ingest between its creation and its record, nor an
// intent of a commit in flight. Writers are single-owner. Lock order:
// backend_mutex(), then MetadataStore's (collection_mutex(), write_mutex()).
#ifndef BERTH_HOST_METADATA_CONTENT_H_
#define BERTH_HOST_METADATA_CONTENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include "berth/mutex.h"
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "berth/content.h"
#include "metadata/db.h"
#include "metadata/intents.h"

namespace berth::host::metadata {

class NamespacedContentStore {
 public:
  NamespacedContentStore(MetadataStore* db, std::shared_ptr<ContentStore> backend);

  Result<ContentInfo> Info(std::string_view ns, std::string_view digest);
  Result<ContentInfo> Update(std::string_view ns, const ContentInfo& info,
                             const std::vector<std::string>& fieldpaths);
  Status Walk(std::string_view ns, const filters::Filter& filter,
              const std::function<Status(const ContentInfo&)>& fn);
  // NotFound when the namespace has no such blob.
  Status Delete(std::string_view ns, std::string_view digest, std::string_view lease = "");
  Result<std::unique_ptr<ContentReader>> ReaderAt(std::string_view ns,
                                                  std::string_view digest);
  // Opens (or resumes) an ingest, held by `lease` when given. AlreadyExists
  // when the namespace has the expected blob (which `lease` then holds).
  Result<std::unique_ptr<ContentWriter>> Writer(std::string_view ns,
                                                const WriterOptions& options,
                                                std::string_view lease = "");
  Result<IngestStatus> GetStatus(std::string_view ns, std::string_view ref);
  Result<std::vector<IngestStatus>> ListStatuses(std::string_view ns,
                                                 const filters::Filter& filter);
  // Removes the ingest (its record and its bytes). NotFound when neither
  // exists.
  Status Abort(std::string_view ns, std::string_view ref, std::string_view lease = "");

  // A writer's commit: runs `publish` (the backend commit, returning the
  // digest and size) and then, in one batch, records the blob in `ns` with
  // `labels`, drops the ingest record `ref` and moves `lease`'s hold from the
  // ingest to the blob. AlreadyExists when the namespace already has it.
  // `planned`: the blob `publish` will put in the backend (its digest and
  // size, known before), recorded as an intent first; nullopt when it
  // changes nothing in the backend (a shared writer) or will fail.
  struct Published {
    std::string digest;
    std::int64_t size = 0;
  };
  Status CommitIngest(std::string_view ns, std::string_view ref, std::string_view lease,
                      const Labels& labels, const std::optional<Published>& planned,
                      const std::function<Result<Published>()>& publish);

  // What Recover repaired.
  struct RecoveryCounts {
    std::int64_t rolled_forward = 0;
    std::int64_t rolled_back = 0;
    std::int64_t errors = 0;  // intents kept (logged; retried by the next collection)
  };
  // Resolves every intent an interrupted commit left (see "Crash safety"),
  // logging each repair. An intent that cannot be resolved is logged,
  // counted and kept; the status is an error only when the database cannot
  // be read.
  Status Recover(RecoveryCounts* counts = nullptr);

  // A collection's backend phase: removes every blob that no namespace's
  // record and no ingest refers to, and every backend ingest no ingest
  // record names (orphans left by a crash included). A removal that fails is
  // counted and skipped (the next collection retries it).
  struct BackendCounts {
    std::int64_t blobs = 0;
    std::int64_t ingests = 0;
    std::int64_t errors = 0;
  };
  Result<BackendCounts> CollectBackend();

  ContentStore& backend() { return *backend_; }
  SharedMutex& backend_mutex() BERTH_RETURN_CAPABILITY(backend_mu_) { return backend_mu_; }

 private:
  static std::string BackendRef(std::string_view ns, std::string_view ref);
  // Records the ingest `ref` (standing on `shared_digest`, "" for none).
  // REQUIRES: collection lock held shared.
  Status RecordIngest(std::string_view ns, std::string_view ref,
                      std::string_view shared_digest, std::string_view lease)
      BERTH_REQUIRES_SHARED(db_->collection_mutex());
  // Adds to `batch` what a commit of ingest `ref` as blob `info` writes: the
  // ingest record's end and, unless the namespace has the blob already
  // (then true), the blob's record and index, held by `lease` when
  // `hold_lease`. REQUIRES: write_mutex() held.
  Result<bool> RecordBlobBatch(std::string_view ns, std::string_view ref, std::string_view lease,
                               bool hold_lease, const ContentInfo& info,
                               leveldb::WriteBatch& batch)
      BERTH_REQUIRES(db_->write_mutex());
  // Calls fn(db key, intent) for each readable content intent.
  Status ScanIntents(const std::function<void(const std::string&, const Intent&)>& fn) const;
  Status RecoverLocked(RecoveryCounts& counts) BERTH_REQUIRES(backend_mu_);
  // Digests some record or ingest refers to, and the backend refs of every
  // recorded ingest.
  Status Referenced(std::unordered_set<std::string>& digests,
                    std::unordered_set<std::string>& ingests) const;

  MetadataStore* db_;
  std::shared_ptr<ContentStore> backend_;
  SharedMutex backend_mu_;  // guards the backend's blobs and ingests, not members
};

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_CONTENT_H_
