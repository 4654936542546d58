// What the record tables keyed by one id per namespace (ContainerRecords,
// ImageRecords) do alike, written once: read one record, list by prefix with
// a filter, create, update and delete, each as containerd's metadata package
// does it, with the kind's own names in its errors.
//
// A kind is a traits struct:
//
//   struct ContainerKind {
//     using Record = Container;
//     static std::string Key(std::string_view ns, std::string_view id);
//     static std::string Prefix(std::string_view ns);  // Key(ns, id) = Prefix(ns) + id
//     static const std::string& Id(const Record& r);
//     static std::string Quoted(std::string_view id);  // `container "<id>"`, in errors
//     static std::string Encode(const Record& r);
//     static Result<Record> Decode(std::string_view bytes);  // Unknown when corrupt
//     static filters::Adaptor Adapt(const Record& r);
//     // Whether replacing `before` by `after` may free something.
//     static bool DropsReference(const Record& before, const Record& after);
//   };
//
// and Record has `created_at` and `updated_at`.
//
// Thread-safety: as db.h asks. The changes (CreateRecord, UpdateRecord,
// DeleteRecord) hold the store's collection lock (shared) and write lock from
// their first read to their write, in the non-template functions below, and
// report the change (MetadataStore::Mutated) after both are released.
#ifndef BERTH_HOST_METADATA_RECORDS_H_
#define BERTH_HOST_METADATA_RECORDS_H_

#include <chrono>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "berth/filters.h"
#include "berth/mutex.h"
#include "metadata/db.h"

namespace berth::host::metadata {

// --- the fields of a record ---

// containerd stores no map entry with an empty value (boltutil's writeMap).
inline void DropEmptyValues(Labels& map) {
  for (auto it = map.begin(); it != map.end();) {
    it = it->second.empty() ? map.erase(it) : std::next(it);
  }
}

// The part of a field path after "<prefix>.", or nullopt when it does not
// start so.
inline std::optional<std::string> FieldSubkey(std::string_view path, std::string_view prefix) {
  if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0 ||
      path[prefix.size()] != '.') {
    return std::nullopt;
  }
  return std::string(path.substr(prefix.size() + 1));
}

// A filter field's value: nullopt (absent) when empty.
inline std::optional<std::string> PresentField(const std::string& v) {
  if (v.empty()) return std::nullopt;
  return v;
}

// containerd's checkMap: the filter field of `map` at `path` (its first
// component names the map; the key is the rest of the path, joined by ".").
inline std::optional<std::string> MapField(const std::vector<std::string>& path,
                                           const Labels& map) {
  if (path.size() < 2) return std::nullopt;
  std::string key = path[1];
  for (std::size_t i = 2; i < path.size(); ++i) key += "." + path[i];
  auto it = map.find(key);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

// --- the transactions, on stored bytes ---

// Under both locks: AlreadyExists(`exists`) when `key` is present; otherwise
// writes `value` at `key` (creating the namespace).
inline Status InsertRecordValue(MetadataStore& db, std::string_view ns, const std::string& key,
                                const std::string& value, const std::string& exists) {
  ReaderLock collect(&db.collection_mutex());
  MutexLock lock(&db.write_mutex());
  auto existing = db.Get(key);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return Status::AlreadyExists(exists);
  leveldb::WriteBatch batch;
  BERTH_RETURN_IF_ERROR(db.EnsureNamespace(ns, batch));
  batch.Put(key, value);
  return db.Write(batch);
}

// Under both locks: NotFound(`missing`) when `key` is absent; otherwise
// writes what `rewrite` makes of the stored value, or returns its error
// (writing nothing).
inline Status RewriteRecordValue(
    MetadataStore& db, const std::string& key, const std::string& missing,
    const std::function<Result<std::string>(std::string_view stored)>& rewrite) {
  ReaderLock collect(&db.collection_mutex());
  MutexLock lock(&db.write_mutex());
  auto stored = db.Get(key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return Status::NotFound(missing);
  auto value = rewrite(**stored);
  if (!value.ok()) return value.status();
  leveldb::WriteBatch batch;
  batch.Put(key, *value);
  return db.Write(batch);
}

// Under both locks: NotFound(`missing`) when `key` is absent; otherwise
// deletes it.
inline Status DeleteRecordValue(MetadataStore& db, const std::string& key,
                                const std::string& missing) {
  ReaderLock collect(&db.collection_mutex());
  MutexLock lock(&db.write_mutex());
  auto existing = db.Get(key);
  if (!existing.ok()) return existing.status();
  if (!existing->has_value()) return Status::NotFound(missing);
  leveldb::WriteBatch batch;
  batch.Delete(key);
  return db.Write(batch);
}

// --- the transactions, on records of a Kind ---

// The record `id`, nullopt when absent. A corrupt record's error names it
// (Kind::Quoted).
template <typename Kind>
Result<std::optional<typename Kind::Record>> ReadRecord(const MetadataStore& db,
                                                        std::string_view ns, std::string_view id) {
  auto value = db.Get(Kind::Key(ns, id));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::optional<typename Kind::Record>();
  auto record = Kind::Decode(**value);
  if (!record.ok()) return record.status().Annotate(Kind::Quoted(id));
  return std::optional<typename Kind::Record>(std::move(*record));
}

// The record `id`; NotFound(`missing`) when absent, also for an empty id.
template <typename Kind>
Result<typename Kind::Record> GetRecord(const MetadataStore& db, std::string_view ns,
                                        std::string_view id, const std::string& missing) {
  if (!id.empty()) {
    auto record = ReadRecord<Kind>(db, ns, id);
    if (!record.ok()) return record.status();
    if (record->has_value()) return std::move(**record);
  }
  return Status::NotFound(missing);
}

// The namespace's records matching `filter` (through Kind::Adapt), in key
// order. A corrupt record's error names it.
template <typename Kind>
Result<std::vector<typename Kind::Record>> ListRecords(const MetadataStore& db,
                                                       std::string_view ns,
                                                       const filters::Filter& filter) {
  std::vector<typename Kind::Record> out;
  Status bad;
  const std::string prefix = Kind::Prefix(ns);
  BERTH_RETURN_IF_ERROR(db.Scan(prefix, [&](std::string_view key, std::string_view value) {
    auto record = Kind::Decode(value);
    if (!record.ok()) {
      bad = record.status().Annotate(Kind::Quoted(key.substr(prefix.size())));
      return false;
    }
    if (filter.Match(Kind::Adapt(*record))) out.push_back(std::move(*record));
    return true;
  }));
  BERTH_RETURN_IF_ERROR(bad);
  return out;
}

// Stores `record` (validated and normalised by the caller) with created_at =
// updated_at = now, and returns it as stored. AlreadyExists
// (Kind::Quoted(id)).
template <typename Kind>
Result<typename Kind::Record> CreateRecord(MetadataStore& db, std::string_view ns,
                                           typename Kind::Record record) {
  record.created_at = std::chrono::system_clock::now();
  record.updated_at = record.created_at;
  const std::string& id = Kind::Id(record);
  BERTH_RETURN_IF_ERROR(
      InsertRecordValue(db, ns, Kind::Key(ns, id), Kind::Encode(record), Kind::Quoted(id)));
  db.Mutated(false);
  return record;
}

// Replaces the record `id` by what `change(before, updated)` makes of
// `updated` (a copy of `before`), keeping created_at and setting updated_at
// to now; returns it as stored. NotFound (Kind::Quoted(id)); `change`'s
// error, writing nothing. `change` runs under the locks.
template <typename Kind>
Result<typename Kind::Record> UpdateRecord(
    MetadataStore& db, std::string_view ns, std::string_view id,
    const std::function<Status(const typename Kind::Record& before,
                               typename Kind::Record& updated)>& change) {
  typename Kind::Record before;
  typename Kind::Record updated;
  BERTH_RETURN_IF_ERROR(RewriteRecordValue(
      db, Kind::Key(ns, id), Kind::Quoted(id),
      [&](std::string_view stored) -> Result<std::string> {
        auto record = Kind::Decode(stored);
        if (!record.ok()) return record.status().Annotate(Kind::Quoted(id));
        before = std::move(*record);
        updated = before;
        BERTH_RETURN_IF_ERROR(change(before, updated));
        updated.created_at = before.created_at;
        updated.updated_at = std::chrono::system_clock::now();
        return Kind::Encode(updated);
      }));
  db.Mutated(Kind::DropsReference(before, updated));
  return updated;
}

// Deletes the record `id`. NotFound (Kind::Quoted(id)), also for an empty id.
template <typename Kind>
Status DeleteRecord(MetadataStore& db, std::string_view ns, std::string_view id) {
  if (id.empty()) return Status::NotFound(Kind::Quoted(id));
  BERTH_RETURN_IF_ERROR(DeleteRecordValue(db, Kind::Key(ns, id), Kind::Quoted(id)));
  db.Mutated(true);
  return Status::Ok();
}

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_RECORDS_H_
