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
// - Ingest refs are per namespace: the backend sees "<ns>/<ref>".
// - Delete removes the namespace's record; the blob itself is removed once no
//   namespace refers to it (CollectIfUnreferenced, the garbage-collection hook).
//
// Thread-safe: metadata changes go through MetadataStore's write mutex; the
// backend is thread-safe. Writers are single-owner.
#ifndef BERTH_HOST_METADATA_CONTENT_H_
#define BERTH_HOST_METADATA_CONTENT_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "berth/content.h"
#include "metadata/db.h"

namespace berth::host::metadata {

class NamespacedContentStore {
 public:
  NamespacedContentStore(MetadataStore* db, std::shared_ptr<ContentStore> backend);

  Result<ContentInfo> Info(std::string_view ns, std::string_view digest);
  Result<ContentInfo> Update(std::string_view ns, const ContentInfo& info,
                             const std::vector<std::string>& fieldpaths);
  Status Walk(std::string_view ns, const filters::Filter& filter,
              const std::function<Status(const ContentInfo&)>& fn);
  Status Delete(std::string_view ns, std::string_view digest);
  Result<std::unique_ptr<ContentReader>> ReaderAt(std::string_view ns,
                                                  std::string_view digest);
  Result<std::unique_ptr<ContentWriter>> Writer(std::string_view ns,
                                                const WriterOptions& options);
  Result<IngestStatus> GetStatus(std::string_view ns, std::string_view ref);
  Result<std::vector<IngestStatus>> ListStatuses(std::string_view ns,
                                                 const filters::Filter& filter);
  Status Abort(std::string_view ns, std::string_view ref);

  // Records `digest` (of `size` bytes, with `labels`) in `ns`. AlreadyExists
  // when the namespace already has it. Used by writers on commit.
  Status AddRecord(std::string_view ns, std::string_view digest, std::int64_t size,
                   const Labels& labels);
  // Removes the blob from the backend when no namespace refers to it.
  Status CollectIfUnreferenced(std::string_view digest);

  ContentStore& backend() { return *backend_; }

 private:
  static std::string BackendRef(std::string_view ns, std::string_view ref);

  MetadataStore* db_;
  std::shared_ptr<ContentStore> backend_;
};

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_CONTENT_H_
