#include "metadata/leases.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <utility>

#include "berth/digest.h"
#include "containerd/services/leases/v1/leases.pb.h"

namespace berth::host::metadata {
namespace {

namespace lpb = containerd::services::leases::v1;

constexpr std::string_view kSnapshotsType = "snapshots";

std::string Encode(const Lease& lease) {
  lpb::Lease pb;
  pb.set_id(lease.id);
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(lease.created_at.time_since_epoch())
          .count();
  pb.mutable_created_at()->set_seconds(ns / 1000000000);
  pb.mutable_created_at()->set_nanos(static_cast<int>(ns % 1000000000));
  for (const auto& [k, v] : lease.labels) (*pb.mutable_labels())[k] = v;
  return pb.SerializeAsString();
}

Result<Lease> Decode(std::string_view bytes) {
  lpb::Lease pb;
  if (!pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Unknown("corrupt lease record");
  }
  Lease lease;
  lease.id = pb.id();
  lease.created_at = Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      std::chrono::seconds(pb.created_at().seconds()) +
      std::chrono::nanoseconds(pb.created_at().nanos())));
  lease.labels.insert(pb.labels().begin(), pb.labels().end());
  return lease;
}

// containerd takes any non-empty id ("lease id must be provided").
Status ValidateLeaseId(std::string_view id) {
  if (id.empty()) return Status::InvalidArgument("lease id must be provided");
  if (id.size() > kMaxRefLength) return Status::InvalidArgument("lease id too long");
  return Status::Ok();
}

// Checks a resource as containerd's parseLeaseResource does and returns its
// id in stored form.
Result<std::string> CheckResource(const LeaseResource& r) {
  if (r.id.empty()) return Status::InvalidArgument("resource id must not be empty");
  if (r.type == kResourceContent) {
    BERTH_RETURN_IF_ERROR(ValidateDigest(r.id).Annotate("invalid content resource id"));
    return r.id;
  }
  if (r.type == kResourceIngests) return r.id;
  const std::string_view type = r.type;
  if (type.substr(0, type.find('/')) == kSnapshotsType) {
    std::string_view snapshotter =
        type.size() > kSnapshotsType.size() ? type.substr(kSnapshotsType.size() + 1) : "";
    if (type.size() <= kSnapshotsType.size() || snapshotter.empty() ||
        snapshotter.find('/') != std::string_view::npos) {
      return Status::InvalidArgument("invalid snapshot resource type " + r.type);
    }
    return r.id;
  }
  return Status::NotImplemented("resource type " + r.type + " not supported yet");
}

// Splits the part of a resource key after "<id>/" into type and id.
std::optional<LeaseResource> ParseResource(std::string_view rest) {
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view kind = rest.substr(0, slash);
  if (kind == kSnapshotsType) {
    std::size_t second = rest.find('/', slash + 1);
    if (second == std::string_view::npos) return std::nullopt;
    return LeaseResource{std::string(rest.substr(second + 1)), std::string(rest.substr(0, second))};
  }
  return LeaseResource{std::string(rest.substr(slash + 1)), std::string(kind)};
}

}  // namespace

std::string SnapshotResourceType(std::string_view snapshotter) {
  return std::string(kSnapshotsType) + "/" + std::string(snapshotter);
}

std::string BackendOfResourceType(std::string_view type) {
  if (type == kResourceContent || type == kResourceIngests) return std::string(kContentBackend);
  if (type.substr(0, kSnapshotsType.size() + 1) == "snapshots/") {
    return SnapshotterBackend(type.substr(kSnapshotsType.size() + 1));
  }
  return "";
}

Status CheckLease(MetadataStore& db, std::string_view ns, std::string_view id) {
  if (id.empty()) return Status::Ok();
  auto v = db.Get(keys::Lease(ns, id));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return Status::NotFound("lease does not exist");
  return Status::Ok();
}

void HoldResource(leveldb::WriteBatch& batch, std::string_view ns, std::string_view lease,
                  std::string_view type, std::string_view id) {
  if (!lease.empty()) batch.Put(keys::LeaseResource(ns, lease, type, id), "");
}

void ReleaseResource(leveldb::WriteBatch& batch, std::string_view ns, std::string_view lease,
                     std::string_view type, std::string_view id) {
  if (!lease.empty()) batch.Delete(keys::LeaseResource(ns, lease, type, id));
}

Result<Lease> LeaseStore::Create(std::string_view ns, const std::string& id, const Labels& labels) {
  BERTH_RETURN_IF_ERROR(ValidateLeaseId(id));
  BERTH_RETURN_IF_ERROR(ValidateLabels(labels));
  Lease lease{id, std::chrono::system_clock::now(), labels};
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    auto existing = db_->Get(keys::Lease(ns, id));
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) return Status::AlreadyExists("lease \"" + id + "\"");
    leveldb::WriteBatch batch;
    BERTH_RETURN_IF_ERROR(db_->EnsureNamespace(ns, batch));
    batch.Put(keys::Lease(ns, id), Encode(lease));
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  db_->Mutated(false);
  return lease;
}

Status LeaseStore::Delete(std::string_view ns, const std::string& id) {
  if (id.empty()) return Status::InvalidArgument("lease id must not be empty");
  std::set<std::string> dirty;
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    BERTH_RETURN_IF_ERROR(CheckLease(*db_, ns, id).Annotate("lease \"" + id + "\""));
    leveldb::WriteBatch batch;
    batch.Delete(keys::Lease(ns, id));
    const std::string prefix = keys::LeaseResourcePrefix(ns, id);
    BERTH_RETURN_IF_ERROR(db_->Scan(prefix, [&](std::string_view key, std::string_view) {
      batch.Delete(leveldb::Slice(key.data(), key.size()));
      if (auto r = ParseResource(key.substr(prefix.size()))) {
        dirty.insert(BackendOfResourceType(r->type));
      }
      return true;
    }));
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  for (const std::string& backend : dirty) db_->MarkDirty(backend);
  db_->Mutated(true);
  return Status::Ok();
}

Result<std::vector<Lease>> LeaseStore::List(std::string_view ns, const filters::Filter& filter) {
  std::vector<Lease> out;
  Status bad;
  const std::string prefix = keys::LeasePrefix(ns);
  BERTH_RETURN_IF_ERROR(db_->Scan(prefix, [&](std::string_view key, std::string_view value) {
    if (key.find('/', prefix.size()) != std::string_view::npos) return true;  // a resource
    auto lease = Decode(value);
    if (!lease.ok()) {
      bad = lease.status();
      return false;
    }
    if (filter.Match(AdaptLease(*lease))) out.push_back(std::move(*lease));
    return true;
  }));
  BERTH_RETURN_IF_ERROR(bad);
  return out;
}

Status LeaseStore::AddResource(std::string_view ns, const std::string& id, const LeaseResource& r) {
  // CheckLease takes "" for "no lease"; here it names none (containerd: NotFound).
  if (id.empty()) return Status::NotFound("lease does not exist");
  auto rid = CheckResource(r);
  if (!rid.ok()) return rid.status();
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    BERTH_RETURN_IF_ERROR(CheckLease(*db_, ns, id).Annotate("lease \"" + id + "\""));
    leveldb::WriteBatch batch;
    HoldResource(batch, ns, id, r.type, *rid);
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  db_->Mutated(false);
  return Status::Ok();
}

Status LeaseStore::DeleteResource(std::string_view ns, const std::string& id,
                                  const LeaseResource& r) {
  auto rid = CheckResource(r);
  if (!rid.ok()) return rid.status();
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    BERTH_RETURN_IF_ERROR(CheckLease(*db_, ns, id).Annotate("lease \"" + id + "\""));
    leveldb::WriteBatch batch;
    ReleaseResource(batch, ns, id, r.type, *rid);
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  db_->Mutated(true, BackendOfResourceType(r.type));
  return Status::Ok();
}

Result<std::vector<LeaseResource>> LeaseStore::ListResources(std::string_view ns,
                                                             const std::string& id) {
  if (id.empty()) return Status::InvalidArgument("lease id must not be empty");
  auto exists = db_->Get(keys::Lease(ns, id));
  if (!exists.ok()) return exists.status();
  if (!exists->has_value()) return Status::NotFound("lease \"" + id + "\"");
  std::vector<LeaseResource> out;
  const std::string prefix = keys::LeaseResourcePrefix(ns, id);
  BERTH_RETURN_IF_ERROR(db_->Scan(prefix, [&](std::string_view key, std::string_view) {
    if (auto r = ParseResource(key.substr(prefix.size()))) out.push_back(std::move(*r));
    return true;
  }));
  return out;
}

std::optional<Timestamp> ParseRfc3339(std::string_view text) {
  // "YYYY-MM-DDTHH:MM:SS" [".fraction"] ("Z" | ("+"|"-") "HH:MM")
  if (text.size() < 20) return std::nullopt;
  auto digits = [&](std::size_t at, std::size_t n, int& out) {
    if (at + n > text.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  std::tm tm{};
  int year, month, day, hour, minute, second;
  if (!digits(0, 4, year) || text[4] != '-' || !digits(5, 2, month) || text[7] != '-' ||
      !digits(8, 2, day) || (text[10] != 'T' && text[10] != 't') || !digits(11, 2, hour) ||
      text[13] != ':' || !digits(14, 2, minute) || text[16] != ':' || !digits(17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t at = 19;
  std::int64_t nanos = 0;
  if (text[at] == '.') {
    std::size_t start = ++at;
    std::int64_t scale = 100000000;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      nanos += (text[at] - '0') * scale;
      scale /= 10;
      ++at;
    }
    if (at == start) return std::nullopt;
  }
  if (at >= text.size()) return std::nullopt;
  int offset_minutes = 0;
  if (text[at] == 'Z' || text[at] == 'z') {
    if (at + 1 != text.size()) return std::nullopt;
  } else if (text[at] == '+' || text[at] == '-') {
    int oh, om;
    if (at + 6 != text.size() || !digits(at + 1, 2, oh) || text[at + 3] != ':' ||
        !digits(at + 4, 2, om)) {
      return std::nullopt;
    }
    offset_minutes = (oh * 60 + om) * (text[at] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t utc = ::timegm(&tm) - static_cast<std::time_t>(offset_minutes) * 60;
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      std::chrono::seconds(utc) + std::chrono::nanoseconds(nanos)));
}

bool DropsGcLabel(const Labels& before, const Labels& after) {
  for (const auto& [k, v] : before) {
    if (k.rfind("containerd.io/gc.", 0) != 0) continue;
    auto it = after.find(k);
    if (it == after.end() || it->second != v) return true;
  }
  return false;
}

filters::Adaptor AdaptLease(const Lease& lease) {
  return [&lease](const std::vector<std::string>& path) -> std::optional<std::string> {
    if (path.empty()) return std::nullopt;
    if (path[0] == "id") {
      if (lease.id.empty()) return std::nullopt;
      return lease.id;
    }
    if (path[0] == "labels") {
      if (path.size() < 2) return std::nullopt;
      std::string key = path[1];
      for (std::size_t i = 2; i < path.size(); ++i) key += "." + path[i];
      auto it = lease.labels.find(key);
      if (it == lease.labels.end()) return std::nullopt;
      return it->second;
    }
    return std::nullopt;
  };
}

}  // namespace berth::host::metadata
