#include "btrfs.h"

#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <utility>

#include "btrfs_fs.h"

namespace berth::btrfs {
namespace {

namespace fs = std::filesystem;
using snapshots::Kind;

Status Errno(const std::string& what, int err) {
  return Status::Unknown(what + ": " + std::strerror(err));
}

constexpr Kind kKinds[] = {Kind::kActive, Kind::kView, Kind::kCommitted};

}  // namespace

Result<std::shared_ptr<BtrfsSnapshotter>> BtrfsSnapshotter::Open(const std::string& root,
                                                                 Options options) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Status::Unknown("create " + root + ": " + ec.message());
  if (chmod(root.c_str(), 0700) != 0) return Errno("chmod " + root, errno);
  auto mount = LookupMount(root);
  if (!mount.ok()) return mount.status();
  if (mount->fstype != "btrfs") {
    return Status::SkipPlugin("path " + root + " (" + mount->fstype +
                              ") must be a btrfs filesystem to be used with the btrfs "
                              "snapshotter");
  }
  for (const char* sub : {"/active", "/view", "/snapshots"}) {
    const std::string dir = root + sub;
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return Errno("create " + dir, errno);
    }
  }
  auto store = snapshots::MetaStore::Open(root + "/metadata.db", {.sync = options.sync_metadata});
  if (!store.ok()) return store.status();
  return std::shared_ptr<BtrfsSnapshotter>(
      new BtrfsSnapshotter(root, mount->source, std::move(*store)));
}

BtrfsSnapshotter::BtrfsSnapshotter(std::string root, std::string device,
                                   std::unique_ptr<snapshots::MetaStore> store)
    : root_(std::move(root)), device_(std::move(device)), store_(std::move(store)) {}

std::string BtrfsSnapshotter::KindDir(Kind kind) const {
  switch (kind) {
    case Kind::kActive:
      return root_ + "/active";
    case Kind::kView:
      return root_ + "/view";
    default:
      return root_ + "/snapshots";
  }
}

std::string BtrfsSnapshotter::PathOf(Kind kind, const std::string& id) const {
  return KindDir(kind) + "/" + id;
}

Result<snapshots::Info> BtrfsSnapshotter::Stat(const std::string& key) {
  auto stored = store_->GetInfo(key);
  if (!stored.ok()) return stored.status();
  return std::move(stored->info);
}

Result<snapshots::Info> BtrfsSnapshotter::Update(const snapshots::Info& info,
                                                 const std::vector<std::string>& fieldpaths) {
  return store_->UpdateInfo(info, fieldpaths);
}

Result<snapshots::Usage> BtrfsSnapshotter::Measure(const std::string& id,
                                                   const std::string& parent_id) const {
  const std::string path = PathOf(Kind::kActive, id);
  auto usage =
      DiffUsage(path, parent_id.empty() ? std::string() : PathOf(Kind::kCommitted, parent_id));
  if (!usage.ok()) return usage.status();
  auto exclusive = QgroupExclusiveBytes(path);
  if (!exclusive.ok()) return exclusive.status();
  if (exclusive->has_value()) usage->size = **exclusive;
  return usage;
}

Result<snapshots::Usage> BtrfsSnapshotter::Usage(const std::string& key) {
  auto stored = store_->GetInfo(key);
  if (!stored.ok()) return stored.status();
  if (stored->info.kind != Kind::kActive) return stored->usage;
  auto s = store_->GetSnapshot(key);
  if (!s.ok()) return s.status();
  return Measure(s->id, s->parent_ids.empty() ? std::string() : s->parent_ids[0]);
}

Result<std::vector<berth::Mount>> BtrfsSnapshotter::Mounts(const std::string& key) {
  auto s = store_->GetSnapshot(key);
  if (!s.ok()) return s.status().Annotate("failed to get active snapshot");
  return MountsFor(*s);
}

Result<std::vector<berth::Mount>> BtrfsSnapshotter::MountsFor(
    const snapshots::StoredSnapshot& s) const {
  auto subvolid = SubvolumeId(PathOf(s.kind, s.id));
  if (!subvolid.ok()) return subvolid.status();
  std::vector<std::string> options = {"subvolid=" + std::to_string(*subvolid)};
  if (s.kind != Kind::kActive) options.push_back("ro");
  return std::vector<berth::Mount>{{"btrfs", device_, "", std::move(options)}};
}

Result<std::vector<berth::Mount>> BtrfsSnapshotter::Prepare(const std::string& key,
                                                            const std::string& parent,
                                                            const snapshots::Labels& labels) {
  return Create(Kind::kActive, key, parent, labels);
}

Result<std::vector<berth::Mount>> BtrfsSnapshotter::View(const std::string& key,
                                                         const std::string& parent,
                                                         const snapshots::Labels& labels) {
  return Create(Kind::kView, key, parent, labels);
}

Result<std::vector<berth::Mount>> BtrfsSnapshotter::Create(Kind kind, const std::string& key,
                                                           const std::string& parent,
                                                           const snapshots::Labels& labels) {
  MutexLock lock(&dirs_mu_);
  std::string made;
  auto build = [&](const snapshots::StoredSnapshot& s) -> Status {
    const std::string target = PathOf(kind, s.id);
    // The id was handed out under the store's lock and its record is not
    // written yet, so a subvolume already there has no record: a crash left
    // it between its creation and the record (the id counter is saved with
    // the record).
    BERTH_RETURN_IF_ERROR(RemoveAny(target));
    if (s.parent_ids.empty()) {
      BERTH_RETURN_IF_ERROR(CreateSubvolume(target));
      made = target;
      // Creating a subvolume does not commit the transaction; this does.
      return SyncDir(KindDir(kind));
    }
    // A snapshot is made by a transaction commit: durable on return.
    BERTH_RETURN_IF_ERROR(
        CreateSnapshot(PathOf(Kind::kCommitted, s.parent_ids[0]), target, kind == Kind::kView));
    made = target;
    return Status::Ok();
  };
  auto created = store_->CreateSnapshot(kind, key, parent, labels, build);
  if (!created.ok()) {
    if (!made.empty()) (void)RemoveAny(made);
    return created.status().Annotate("failed to create snapshot");
  }
  return MountsFor(*created);
}

Status BtrfsSnapshotter::Commit(const std::string& name, const std::string& key,
                                const snapshots::Labels& labels) {
  MutexLock lock(&dirs_mu_);
  auto s = store_->GetSnapshot(key);
  if (!s.ok() || s->kind != Kind::kActive) {
    // Not an active snapshot: the store answers with the matching error.
    auto refused = store_->CommitActive(key, name, {}, labels);
    if (!refused.ok()) return refused.status().Annotate("failed to commit snapshot");
    return Status::FailedPrecondition("snapshot " + key + " is not active");
  }
  auto usage = Measure(s->id, s->parent_ids.empty() ? std::string() : s->parent_ids[0]);
  if (!usage.ok()) return usage.status().Annotate("failed to compute usage");
  const std::string source = PathOf(Kind::kActive, s->id);
  const std::string target = PathOf(Kind::kCommitted, s->id);
  // Left by a crash between this snapshot and the record: the record still
  // says active, so nothing refers to it.
  BERTH_RETURN_IF_ERROR(RemoveAny(target));
  BERTH_RETURN_IF_ERROR(CreateSnapshot(source, target, /*read_only=*/true));
  auto id = store_->CommitActive(key, name, *usage, labels);
  if (!id.ok()) {
    (void)RemoveAny(target);
    return id.status().Annotate("failed to commit snapshot");
  }
  // Once committed, the active subvolume is a leftover; Cleanup takes it if
  // this fails.
  (void)DeleteSubvolume(source);
  return Status::Ok();
}

Status BtrfsSnapshotter::Remove(const std::string& key) {
  std::string doomed;
  {
    MutexLock lock(&dirs_mu_);
    auto removed = store_->Remove(key);
    if (!removed.ok()) return removed.status().Annotate("failed to remove snapshot");
    const std::string source = PathOf(removed->kind, removed->id);
    doomed = KindDir(removed->kind) + "/rm-" + removed->id;
    // The record is gone; if the rename fails Cleanup deletes the subvolume
    // under its id.
    if (rename(source.c_str(), doomed.c_str()) != 0) return Status::Ok();
  }
  // A failed delete leaves "rm-<id>" for Cleanup.
  (void)DeleteSubvolume(doomed);
  return Status::Ok();
}

Status BtrfsSnapshotter::Walk(const snapshots::WalkFn& fn,
                              const std::vector<std::string>& filters) {
  return store_->WalkInfo([&](const std::string&, const snapshots::Info& info) { return fn(info); },
                          filters);
}

Status BtrfsSnapshotter::Cleanup() {
  MutexLock lock(&dirs_mu_);
  // Which folder each record's subvolume belongs in.
  std::map<std::string, std::string> wanted;  // path -> id
  Status walked = store_->WalkInfo(
      [&](const std::string& id, const snapshots::Info& info) {
        wanted.emplace(PathOf(info.kind, id), id);
        return Status::Ok();
      },
      {});
  if (!walked.ok()) return walked;
  std::vector<std::string> leftovers;
  for (Kind kind : kKinds) {
    std::error_code ec;
    const std::string dir = KindDir(kind);
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!wanted.contains(it->path().string())) leftovers.push_back(it->path().string());
    }
    if (ec) return Status::Unknown("list " + dir + ": " + ec.message());
  }
  Status first = Status::Ok();
  for (const auto& path : leftovers) {
    Status s = RemoveAny(path);
    if (!s.ok() && first.ok()) first = s.Annotate("failed to remove leftover");
  }
  return first;
}

Status BtrfsSnapshotter::Close() { return Status::Ok(); }

}  // namespace berth::btrfs
