#include "overlay.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "overlay_fs.h"

namespace berth::overlay {
namespace {

namespace fs = std::filesystem;
using snapshots::Kind;

Status Errno(const std::string& what, int err) {
  return Status::Unknown(what + ": " + std::strerror(err));
}

std::string Join(const std::vector<std::string>& parts, char sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

}  // namespace

Result<std::shared_ptr<OverlaySnapshotter>> OverlaySnapshotter::Open(
    const std::string& root, Options options) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Status::Unknown("create " + root + ": " + ec.message());
  fs::permissions(root, fs::perms::owner_all, ec);
  Result<bool> dtype = SupportsDType(root);
  if (!dtype.ok()) return dtype.status();
  if (!*dtype) {
    return Status::SkipPlugin(root +
                              " does not support d_type. If the backing filesystem "
                              "is xfs, please reformat with ftype=1 to enable "
                              "d_type support");
  }
  if (Status s = CheckOverlayMount(root); !s.ok()) {
    return Status::SkipPlugin("overlay is not supported on " + root + ": " +
                              s.message());
  }
  auto store = snapshots::MetaStore::Open(root + "/metadata.db",
                                          {.sync = options.sync_metadata});
  if (!store.ok()) return store.status();
  const std::string snapshots_dir = root + "/snapshots";
  if (mkdir(snapshots_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno("create " + snapshots_dir, errno);
  }
  return std::shared_ptr<OverlaySnapshotter>(
      new OverlaySnapshotter(root, std::move(options), std::move(*store)));
}

OverlaySnapshotter::OverlaySnapshotter(std::string root, Options options,
                                       std::unique_ptr<snapshots::MetaStore> store)
    : root_(std::move(root)),
      options_(std::move(options)),
      index_off_(SupportsIndex()),
      userxattr_(NeedsUserXattr(root_)),
      store_(std::move(store)) {}

std::string OverlaySnapshotter::SnapshotsDir() const { return root_ + "/snapshots"; }
std::string OverlaySnapshotter::UpperPath(const std::string& id) const {
  return root_ + "/snapshots/" + id + "/fs";
}
std::string OverlaySnapshotter::WorkPath(const std::string& id) const {
  return root_ + "/snapshots/" + id + "/work";
}

void OverlaySnapshotter::AddUpperdirLabel(const std::string& id,
                                          snapshots::Info& info) const {
  if (options_.upperdir_label) info.labels[kUpperdirLabel] = UpperPath(id);
}

Result<snapshots::Info> OverlaySnapshotter::Stat(const std::string& key) {
  auto stored = store_->GetInfo(key);
  if (!stored.ok()) return stored.status();
  AddUpperdirLabel(stored->id, stored->info);
  return std::move(stored->info);
}

Result<snapshots::Info> OverlaySnapshotter::Update(
    const snapshots::Info& info, const std::vector<std::string>& fieldpaths) {
  // The upperdir label is computed, never stored.
  snapshots::Info request = info;
  request.labels.erase(kUpperdirLabel);
  auto updated = store_->UpdateInfo(request, fieldpaths);
  if (!updated.ok()) return updated.status();
  if (options_.upperdir_label) {
    auto stored = store_->GetInfo(info.name);
    if (!stored.ok()) return stored.status();
    AddUpperdirLabel(stored->id, *updated);
  }
  return updated;
}

Result<snapshots::Usage> OverlaySnapshotter::Usage(const std::string& key) {
  auto stored = store_->GetInfo(key);
  if (!stored.ok()) return stored.status();
  if (stored->info.kind == Kind::kActive) return DiskUsage(UpperPath(stored->id));
  return stored->usage;
}

Result<std::vector<berth::Mount>> OverlaySnapshotter::Mounts(const std::string& key) {
  auto s = store_->GetSnapshot(key);
  if (!s.ok()) return s.status().Annotate("failed to get active mount");
  return MountsFor(*s);
}

Result<std::vector<berth::Mount>> OverlaySnapshotter::Prepare(
    const std::string& key, const std::string& parent,
    const snapshots::Labels& labels) {
  return Create(Kind::kActive, key, parent, labels);
}

Result<std::vector<berth::Mount>> OverlaySnapshotter::View(
    const std::string& key, const std::string& parent,
    const snapshots::Labels& labels) {
  return Create(Kind::kView, key, parent, labels);
}

Result<std::vector<berth::Mount>> OverlaySnapshotter::Create(
    Kind kind, const std::string& key, const std::string& parent,
    const snapshots::Labels& labels) {
  MutexLock lock(&dirs_mu_);
  std::string td = SnapshotsDir() + "/new-XXXXXX";
  if (mkdtemp(td.data()) == nullptr) {
    return Errno("failed to create temp dir in " + SnapshotsDir(), errno);
  }
  std::string final_path;
  auto build = [&](const snapshots::StoredSnapshot& s) -> Status {
    const std::string fs_dir = td + "/fs";
    if (mkdir(fs_dir.c_str(), 0755) != 0) return Errno("create " + fs_dir, errno);
    if (kind == Kind::kActive) {
      const std::string work = td + "/work";
      if (mkdir(work.c_str(), 0711) != 0) return Errno("create " + work, errno);
    }
    if (!s.parent_ids.empty()) {
      struct stat st {};
      const std::string parent_fs = UpperPath(s.parent_ids[0]);
      if (stat(parent_fs.c_str(), &st) != 0) {
        return Errno("failed to stat parent " + parent_fs, errno);
      }
      if (lchown(fs_dir.c_str(), st.st_uid, st.st_gid) != 0) {
        return Errno("failed to chown " + fs_dir, errno);
      }
    }
    final_path = SnapshotsDir() + "/" + s.id;
    // The id was handed out under the store's lock and its record is not
    // written yet, so a directory already there has no record: a crash left
    // it between rename and record (the id counter is saved with the record).
    std::error_code stale;
    fs::remove_all(final_path, stale);
    if (rename(td.c_str(), final_path.c_str()) != 0) {
      final_path.clear();
      return Errno("failed to rename " + td, errno);
    }
    td.clear();
    return SyncDir(SnapshotsDir());
  };
  auto created = store_->CreateSnapshot(kind, key, parent, labels, build);
  if (!created.ok()) {
    std::error_code ec;
    if (!td.empty()) fs::remove_all(td, ec);
    if (!final_path.empty()) fs::remove_all(final_path, ec);
    return created.status().Annotate("failed to create snapshot");
  }
  return MountsFor(*created);
}

std::vector<berth::Mount> OverlaySnapshotter::MountsFor(
    const snapshots::StoredSnapshot& s) const {
  if (s.parent_ids.empty()) {
    return {{"bind", UpperPath(s.id), "",
             {s.kind == Kind::kView ? "ro" : "rw", "rbind"}}};
  }
  if (s.kind != Kind::kActive && s.parent_ids.size() == 1) {
    return {{"bind", UpperPath(s.parent_ids[0]), "", {"ro", "rbind"}}};
  }
  std::vector<std::string> options;
  if (index_off_) options.push_back("index=off");
  if (userxattr_) options.push_back("userxattr");
  options.insert(options.end(), options_.mount_options.begin(),
                 options_.mount_options.end());
  if (s.kind == Kind::kActive) {
    options.push_back("workdir=" + WorkPath(s.id));
    options.push_back("upperdir=" + UpperPath(s.id));
  }
  std::vector<std::string> lowers;
  lowers.reserve(s.parent_ids.size());
  for (const auto& id : s.parent_ids) lowers.push_back(UpperPath(id));
  options.push_back("lowerdir=" + Join(lowers, ':'));
  return {{"overlay", "overlay", "", std::move(options)}};
}

Status OverlaySnapshotter::Commit(const std::string& name, const std::string& key,
                                  const snapshots::Labels& labels) {
  auto stored = store_->GetInfo(key);
  if (!stored.ok()) return stored.status();
  auto usage = DiskUsage(UpperPath(stored->id));
  if (!usage.ok()) return usage.status();
  auto id = store_->CommitActive(key, name, *usage, labels);
  if (!id.ok()) return id.status().Annotate("failed to commit snapshot");
  return Status::Ok();
}

Status OverlaySnapshotter::Remove(const std::string& key) {
  MutexLock lock(&dirs_mu_);
  auto removed = store_->Remove(key);
  if (!removed.ok()) return removed.status().Annotate("failed to remove");
  const std::string dir = SnapshotsDir() + "/" + removed->id;
  const std::string doomed = SnapshotsDir() + "/rm-" + removed->id;
  if (rename(dir.c_str(), doomed.c_str()) != 0) {
    // The record is gone; Cleanup deletes the directory under its id.
    return Status::Ok();
  }
  if (options_.sync_remove) {
    std::error_code ec;
    fs::remove_all(doomed, ec);
    if (ec) return Status::Unknown("remove " + doomed + ": " + ec.message());
  }
  return Status::Ok();
}

Status OverlaySnapshotter::Walk(const snapshots::WalkFn& fn,
                                const std::vector<std::string>& filters) {
  return store_->WalkInfo(
      [&](const std::string& id, const snapshots::Info& info) {
        if (!options_.upperdir_label) return fn(info);
        snapshots::Info labelled = info;
        AddUpperdirLabel(id, labelled);
        return fn(labelled);
      },
      filters);
}

Status OverlaySnapshotter::Cleanup() {
  std::vector<std::string> orphans;
  {
    MutexLock lock(&dirs_mu_);
    auto ids = store_->IdMap();
    if (!ids.ok()) return ids.status();
    std::error_code ec;
    for (fs::directory_iterator it(SnapshotsDir(), ec), end; !ec && it != end;
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!ids->contains(name)) orphans.push_back(it->path().string());
    }
    if (ec) return Status::Unknown("list " + SnapshotsDir() + ": " + ec.message());
  }
  Status first = Status::Ok();
  for (const auto& dir : orphans) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec && first.ok()) {
      first = Status::Unknown("failed to remove " + dir + ": " + ec.message());
    }
  }
  return first;
}

Status OverlaySnapshotter::Close() { return Status::Ok(); }

}  // namespace berth::overlay
