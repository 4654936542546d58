// example-snapshotter: an external snapshotter built only against the
// installed berth SDK. Each snapshot is a plain folder; a child starts as a
// full copy of its parent and is handed out as a bind mount (read-only for
// views). Records live in berth's snapshot store (libberth-snapshot-storage),
// so they survive restarts; libberth-grpc serves the snapshotter over
// containerd's snapshots API on a unix socket.
//
//   example-snapshotter ROOT SOCKET
//
// SIGTERM or SIGINT stops it (and removes the socket).
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "berth/grpc/serve.h"
#include "berth/snapshot_storage.h"
#include "berth/snapshotter.h"

namespace {

namespace fs = std::filesystem;
using berth::Mount;
using berth::Result;
using berth::Status;
namespace snapshots = berth::snapshots;

// Bytes and inodes under `dir`, counting each file once.
snapshots::Usage DiskUsage(const fs::path& dir) {
  snapshots::Usage u;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    ++u.inodes;
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      u.size += static_cast<std::int64_t>(it->file_size(ec));
    }
  }
  return u;
}

class CopySnapshotter final : public berth::Snapshotter {
 public:
  static Result<std::shared_ptr<CopySnapshotter>> Open(const std::string& root) {
    std::error_code ec;
    fs::create_directories(fs::path(root) / "snapshots", ec);
    if (ec) return Status::Unknown("create " + root + ": " + ec.message());
    auto store = snapshots::MetaStore::Open(root + "/metadata.db");
    if (!store.ok()) return store.status();
    return std::shared_ptr<CopySnapshotter>(new CopySnapshotter(root, std::move(*store)));
  }

  Result<snapshots::Info> Stat(const std::string& key) override {
    auto stored = store_->GetInfo(key);
    if (!stored.ok()) return stored.status();
    return stored->info;
  }

  Result<snapshots::Info> Update(const snapshots::Info& info,
                                 const std::vector<std::string>& fieldpaths) override {
    return store_->UpdateInfo(info, fieldpaths);
  }

  Result<snapshots::Usage> Usage(const std::string& key) override {
    auto stored = store_->GetInfo(key);
    if (!stored.ok()) return stored.status();
    if (stored->info.kind == snapshots::Kind::kCommitted) return stored->usage;
    return DiskUsage(Dir(stored->id));
  }

  Result<std::vector<Mount>> Mounts(const std::string& key) override {
    auto s = store_->GetSnapshot(key);
    if (!s.ok()) return s.status();
    return MountsOf(*s);
  }

  Result<std::vector<Mount>> Prepare(const std::string& key, const std::string& parent,
                                     const snapshots::Labels& labels) override {
    return Create(snapshots::Kind::kActive, key, parent, labels);
  }

  Result<std::vector<Mount>> View(const std::string& key, const std::string& parent,
                                  const snapshots::Labels& labels) override {
    return Create(snapshots::Kind::kView, key, parent, labels);
  }

  Status Commit(const std::string& name, const std::string& key,
                const snapshots::Labels& labels) override {
    auto s = store_->GetSnapshot(key);
    if (!s.ok()) return s.status();
    auto id = store_->CommitActive(key, name, DiskUsage(Dir(s->id)), labels);
    return id.ok() ? Status::Ok() : id.status();
  }

  Status Remove(const std::string& key) override {
    auto removed = store_->Remove(key);
    if (!removed.ok()) return removed.status();
    std::error_code ec;
    fs::remove_all(Dir(removed->id), ec);  // a leftover folder holds no record: harmless
    return Status::Ok();
  }

  Status Walk(const snapshots::WalkFn& fn, const std::vector<std::string>& filters) override {
    return store_->WalkInfo(
        [&](const std::string&, const snapshots::Info& info) { return fn(info); }, filters);
  }

 private:
  CopySnapshotter(std::string root, std::unique_ptr<snapshots::MetaStore> store)
      : root_(std::move(root)), store_(std::move(store)) {}

  fs::path Dir(const std::string& id) const { return fs::path(root_) / "snapshots" / id; }

  std::vector<Mount> MountsOf(const snapshots::StoredSnapshot& s) const {
    const char* mode = s.kind == snapshots::Kind::kView ? "ro" : "rw";
    return {Mount{"bind", Dir(s.id).string(), "", {"rbind", mode}}};
  }

  // Makes the folder (a copy of the parent's) before the record is written,
  // so that a failed copy leaves no record behind.
  Result<std::vector<Mount>> Create(snapshots::Kind kind, const std::string& key,
                                    const std::string& parent, const snapshots::Labels& labels) {
    auto made = store_->CreateSnapshot(
        kind, key, parent, labels, [&](const snapshots::StoredSnapshot& s) -> Status {
          std::error_code ec;
          fs::remove_all(Dir(s.id), ec);
          if (s.parent_ids.empty()) {
            fs::create_directory(Dir(s.id), ec);
          } else {
            fs::copy(Dir(s.parent_ids.front()), Dir(s.id),
                     fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
          }
          return ec ? Status::Unknown("populate snapshot " + key + ": " + ec.message())
                    : Status::Ok();
        });
    if (!made.ok()) return made.status();
    return MountsOf(*made);
  }

  const std::string root_;
  std::unique_ptr<snapshots::MetaStore> store_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ROOT SOCKET\n", argv[0]);
    return 2;
  }
  // Blocked before gRPC starts its threads, so only sigwait() sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto snapshotter = CopySnapshotter::Open(argv[1]);
  if (!snapshotter.ok()) {
    std::fprintf(stderr, "example-snapshotter: %s\n", snapshotter.status().ToString().c_str());
    return 1;
  }
  berth::grpc_util::SnapshotsServer service(*snapshotter);
  auto server = berth::grpc_util::UnixServer::Start(argv[2], {service.service()});
  if (!server.ok()) {
    std::fprintf(stderr, "example-snapshotter: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "example-snapshotter: serving %s on %s\n", argv[1],
               (*server)->path().c_str());
  int signal = 0;
  sigwait(&stop, &signal);
  (*server)->Shutdown();
  return 0;
}
