// Test helpers of the walking differ (see testing.h).
#include "testing.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "berth/digest.h"
#include "berth/mount.h"

namespace berth::diff_walking::testing {
namespace {

class MemoryReader : public ContentReader {
 public:
  explicit MemoryReader(std::string bytes) : bytes_(std::move(bytes)) {}
  Result<std::size_t> ReadAt(void* buf, std::size_t size, std::int64_t offset) override {
    if (offset < 0) return Status::InvalidArgument("negative offset");
    if (static_cast<std::size_t>(offset) >= bytes_.size()) return std::size_t{0};
    std::size_t n = std::min(size, bytes_.size() - static_cast<std::size_t>(offset));
    std::memcpy(buf, bytes_.data() + offset, n);
    return n;
  }
  std::int64_t Size() const override { return static_cast<std::int64_t>(bytes_.size()); }

 private:
  std::string bytes_;
};

}  // namespace

class MemoryWriter : public ContentWriter {
 public:
  MemoryWriter(MemoryContentStore& store, std::string ref)
      : store_(store), ref_(std::move(ref)) {}
  Status Write(const void* data, std::size_t size) override {
    if (done_) return Status::FailedPrecondition("writer committed");
    store_.ingests_[ref_].append(static_cast<const char*>(data), size);
    return Status::Ok();
  }
  std::string Digest() const override { return Sha256Of(Bytes()); }
  std::int64_t Offset() const override {
    return static_cast<std::int64_t>(Bytes().size());
  }
  Result<IngestStatus> Stat() const override {
    IngestStatus st;
    st.ref = ref_;
    st.offset = Offset();
    return st;
  }
  Status Truncate(std::int64_t size) override {
    if (size != 0) return Status::InvalidArgument("truncate to non-zero");
    store_.ingests_[ref_].clear();
    return Status::Ok();
  }
  Status Commit(std::int64_t size, std::string_view expected,
                const Labels& labels) override {
    const std::string bytes = Bytes();
    const std::string digest = Sha256Of(bytes);
    if ((size != 0 && size != static_cast<std::int64_t>(bytes.size())) ||
        (!expected.empty() && expected != digest)) {
      return Status::FailedPrecondition("commit mismatch");
    }
    done_ = true;
    store_.ingests_.erase(ref_);
    if (store_.blobs_.contains(digest)) {
      return Status::AlreadyExists("content " + digest);
    }
    store_.blobs_[digest] = {bytes, labels};
    return Status::Ok();
  }

 private:
  std::string Bytes() const {
    auto it = store_.ingests_.find(ref_);
    return it == store_.ingests_.end() ? std::string() : it->second;
  }
  MemoryContentStore& store_;
  std::string ref_;
  bool done_ = false;
};

Result<ContentInfo> MemoryContentStore::Info(std::string_view digest) {
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) return Status::NotFound("content " + std::string(digest));
  ContentInfo info;
  info.digest = it->first;
  info.size = static_cast<std::int64_t>(it->second.bytes.size());
  info.labels = it->second.labels;
  return info;
}

Result<ContentInfo> MemoryContentStore::Update(const ContentInfo& info,
                                               const std::vector<std::string>& fieldpaths) {
  auto it = blobs_.find(info.digest);
  if (it == blobs_.end()) return Status::NotFound("content " + info.digest);
  BERTH_RETURN_IF_ERROR(ApplyLabelUpdate(it->second.labels, info.labels, fieldpaths));
  return Info(info.digest);
}

Status MemoryContentStore::Walk(const filters::Filter&,
                                const std::function<Status(const ContentInfo&)>& fn) {
  for (const auto& [digest, blob] : blobs_) {
    auto info = Info(digest);
    if (!info.ok()) return info.status();
    BERTH_RETURN_IF_ERROR(fn(*info));
  }
  return Status::Ok();
}

Status MemoryContentStore::Delete(std::string_view digest) {
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) return Status::NotFound("content " + std::string(digest));
  blobs_.erase(it);
  return Status::Ok();
}

Result<std::unique_ptr<ContentReader>> MemoryContentStore::ReaderAt(
    std::string_view digest) {
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) return Status::NotFound("content " + std::string(digest));
  return std::unique_ptr<ContentReader>(new MemoryReader(it->second.bytes));
}

Result<std::unique_ptr<ContentWriter>> MemoryContentStore::Writer(
    const WriterOptions& options) {
  BERTH_RETURN_IF_ERROR(ValidateRef(options.ref));
  ingests_.try_emplace(options.ref);
  return std::unique_ptr<ContentWriter>(new MemoryWriter(*this, options.ref));
}

Result<IngestStatus> MemoryContentStore::GetStatus(std::string_view ref) {
  auto it = ingests_.find(ref);
  if (it == ingests_.end()) return Status::NotFound("ingest " + std::string(ref));
  IngestStatus st;
  st.ref = it->first;
  st.offset = static_cast<std::int64_t>(it->second.size());
  return st;
}

Result<std::vector<IngestStatus>> MemoryContentStore::ListStatuses(const filters::Filter&) {
  std::vector<IngestStatus> out;
  for (const auto& [ref, bytes] : ingests_) {
    IngestStatus st;
    st.ref = ref;
    st.offset = static_cast<std::int64_t>(bytes.size());
    out.push_back(st);
  }
  return out;
}

Status MemoryContentStore::Abort(std::string_view ref) {
  auto it = ingests_.find(ref);
  if (it == ingests_.end()) return Status::NotFound("ingest " + std::string(ref));
  ingests_.erase(it);
  return Status::Ok();
}

Descriptor MemoryContentStore::Put(const std::string& bytes, std::string_view media_type) {
  Descriptor d;
  d.media_type = std::string(media_type);
  d.digest = Sha256Of(bytes);
  d.size = static_cast<std::int64_t>(bytes.size());
  blobs_[d.digest] = {bytes, {}};
  return d;
}

std::string MemoryContentStore::Bytes(std::string_view digest) const {
  auto it = blobs_.find(digest);
  return it == blobs_.end() ? std::string() : it->second.bytes;
}

TarEntry File(std::string path, std::string data, mode_t perm) {
  TarEntry e;
  e.path = std::move(path);
  e.data = std::move(data);
  e.perm = perm;
  return e;
}

TarEntry Dir(std::string path, mode_t perm) {
  TarEntry e;
  e.path = std::move(path);
  e.type = S_IFDIR;
  e.perm = perm;
  return e;
}

TarEntry Symlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.type = S_IFLNK;
  e.perm = 0777;
  e.link = std::move(target);
  return e;
}

TarEntry Hardlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.link = std::move(target);
  e.hardlink = true;
  return e;
}

namespace {
la_ssize_t AppendOut(struct archive*, void* out, const void* buf, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), size);
  return static_cast<la_ssize_t>(size);
}
}  // namespace

std::string BuildTar(const std::vector<TarEntry>& entries, Compression compression) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (compression == Compression::kGzip) archive_write_add_filter_gzip(a);
  if (compression == Compression::kZstd) archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open2(a, &out, nullptr, AppendOut, nullptr, nullptr);
  for (const auto& t : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_filetype(e, t.hardlink ? S_IFREG : t.type);
    archive_entry_set_perm(e, t.perm);
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, t.mtime, 0);
    if (t.hardlink) {
      archive_entry_set_hardlink(e, t.link.c_str());
    } else if (t.type == S_IFLNK) {
      archive_entry_set_symlink(e, t.link.c_str());
    }
    if (t.type == S_IFCHR || t.type == S_IFBLK) {
      archive_entry_set_rdevmajor(e, t.rdev_major);
      archive_entry_set_rdevminor(e, t.rdev_minor);
    }
    for (const auto& [k, v] : t.xattrs) {
      archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    }
    const bool data = t.type == S_IFREG && !t.hardlink;
    archive_entry_set_size(e, data ? static_cast<la_int64_t>(t.data.size()) : 0);
    archive_write_header(a, e);
    if (data && !t.data.empty()) archive_write_data(a, t.data.data(), t.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

TempDir::TempDir() {
  std::string tmpl = "/tmp/berth-diff-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  // Unmount whatever a failed test left, deepest first.
  std::vector<std::string> mounted;
  std::ifstream info("/proc/self/mountinfo");
  std::string line;
  while (std::getline(info, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    fields >> id >> parent >> devno >> root >> point;
    if (point.starts_with(path_ + "/")) mounted.push_back(point);
  }
  std::sort(mounted.rbegin(), mounted.rend());
  for (const auto& m : mounted) (void)UnmountAll(m, MNT_DETACH);
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Sub(const std::string& name) const {
  std::string p = path_ + "/" + name;
  std::filesystem::create_directories(p);
  return p;
}

Tree Snapshot(const std::string& root) {
  Tree tree;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const std::string path = it->path().string();
    const std::string rel = path.substr(root.size() + 1);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    Node n;
    n.mode = st.st_mode;
    n.uid = st.st_uid;
    n.gid = st.st_gid;
    n.rdev = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? st.st_rdev : 0;
    if (!S_ISDIR(st.st_mode)) {
      n.size = st.st_size;
      n.mtime = st.st_mtim.tv_sec;
    }
    if (S_ISREG(st.st_mode)) n.content = ReadFileAt(path);
    if (S_ISLNK(st.st_mode)) {
      n.link = std::filesystem::read_symlink(path, ec).string();
    }
    auto dir = OpenRoot(std::filesystem::path(path).parent_path().string());
    if (dir.ok()) {
      auto x = ListXattrsAt(dir->get(), it->path().filename().string());
      if (x.ok()) n.xattrs = *x;
    }
    std::erase_if(n.xattrs, [](const auto& kv) {
      return kv.first.starts_with("trusted.overlay.");
    });
    tree[rel] = n;
  }
  return tree;
}

std::string TreeDiff(const Tree& want, const Tree& got) {
  std::ostringstream out;
  for (const auto& [path, node] : want) {
    auto it = got.find(path);
    if (it == got.end()) {
      out << "missing " << path << "\n";
    } else if (!(it->second == node)) {
      out << "differs " << path << ": mode " << std::oct << node.mode << "/"
          << it->second.mode << std::dec << " uid " << node.uid << "/"
          << it->second.uid << " size " << node.size << "/" << it->second.size
          << " mtime " << node.mtime << "/" << it->second.mtime << " link '"
          << node.link << "'/'" << it->second.link << "' xattrs "
          << node.xattrs.size() << "/" << it->second.xattrs.size() << "\n";
    }
  }
  for (const auto& [path, node] : got) {
    if (!want.contains(path)) out << "unexpected " << path << "\n";
  }
  return out.str();
}

bool WriteFileAt(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
  return static_cast<bool>(f);
}

std::string ReadFileAt(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool IsMounted(const std::string& path) {
  std::ifstream info("/proc/self/mountinfo");
  std::string line;
  while (std::getline(info, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    fields >> id >> parent >> devno >> root >> point;
    if (point == path) return true;
  }
  return false;
}

}  // namespace berth::diff_walking::testing
