// Test helpers of the walking differ: an in-memory ContentStore, a tar layer
// builder on libarchive's writer, temporary directories that unmount what is
// left on them, and a tree snapshot for comparing directory trees.
//
// Not thread-safe; for single-threaded tests.
#ifndef BERTH_PLUGINS_DIFF_WALKING_TESTING_H_
#define BERTH_PLUGINS_DIFF_WALKING_TESTING_H_

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "berth/content.h"
#include "berth/diff.h"
#include "fs_ops.h"
#include "layer_stream.h"

namespace berth::diff_walking::testing {

// A ContentStore holding blobs and ingests in memory. Walk, Delete,
// GetStatus and ListStatuses are minimal.
class MemoryContentStore : public ContentStore {
 public:
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

  // Stores `bytes` as a blob (any label-free bytes); returns its descriptor.
  Descriptor Put(const std::string& bytes, std::string_view media_type);
  // The bytes of a blob ("" when absent).
  std::string Bytes(std::string_view digest) const;
  std::size_t ingest_count() const { return ingests_.size(); }

 private:
  friend class MemoryWriter;
  struct Blob {
    std::string bytes;
    Labels labels;
  };
  std::map<std::string, Blob, std::less<>> blobs_;
  std::map<std::string, std::string, std::less<>> ingests_;
};

// One tar entry to build. `type` is a file type (S_IFREG, S_IFDIR, ...);
// `link` is a symlink's target or, with `hardlink`, the linked path.
struct TarEntry {
  std::string path;
  mode_t type = S_IFREG;
  mode_t perm = 0644;
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::int64_t mtime = 1600000000;
  std::string data;
  std::string link;
  bool hardlink = false;
  unsigned rdev_major = 0;
  unsigned rdev_minor = 0;
  Xattrs xattrs;
};

TarEntry File(std::string path, std::string data, mode_t perm = 0644);
TarEntry Dir(std::string path, mode_t perm = 0755);
TarEntry Symlink(std::string path, std::string target);
TarEntry Hardlink(std::string path, std::string target);

// A tar (pax) of `entries`, compressed as asked (kNone, kGzip, kZstd).
std::string BuildTar(const std::vector<TarEntry>& entries, Compression compression);

// A fresh directory under /tmp; on destruction unmounts anything mounted
// below it and removes it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Creates and returns "<path>/<name>".
  std::string Sub(const std::string& name) const;

 private:
  std::string path_;
};

// What a tree holds, per path relative to its root; directories' mtimes are
// left out (creating children changes them), other mtimes kept in seconds.
struct Node {
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::int64_t size = 0;
  std::int64_t mtime = 0;
  dev_t rdev = 0;
  std::string content;  // regular files
  std::string link;     // symlinks
  Xattrs xattrs;        // trusted.overlay.* left out
  bool operator==(const Node&) const = default;
};
using Tree = std::map<std::string, Node>;
Tree Snapshot(const std::string& root);
// A readable listing of the differences between two trees ("" if equal).
std::string TreeDiff(const Tree& want, const Tree& got);

// Writes a file; returns false on failure.
bool WriteFileAt(const std::string& path, const std::string& data);
std::string ReadFileAt(const std::string& path);
// Whether `path` is a mount point (listed in /proc/self/mountinfo).
bool IsMounted(const std::string& path);

}  // namespace berth::diff_walking::testing

#endif  // BERTH_PLUGINS_DIFF_WALKING_TESTING_H_
