#include "metadata/intents.h"

#include <charconv>

#include <google/protobuf/struct.pb.h>

namespace berth::host::metadata {
namespace {

using google::protobuf::Struct;

void PutString(Struct& s, const char* field, const std::string& value) {
  if (!value.empty()) (*s.mutable_fields())[field].set_string_value(value);
}

std::string GetString(const Struct& s, const char* field) {
  auto it = s.fields().find(field);
  return it == s.fields().end() ? std::string() : it->second.string_value();
}

Result<std::int64_t> GetInt(const Struct& s, const char* field) {
  const std::string text = GetString(s, field);
  if (text.empty()) return std::int64_t{0};
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc() && end == text.data() + text.size()) return value;
  return Status::Unknown(std::string("corrupt intent: ") + field + " \"" + text + "\"");
}

}  // namespace

std::string EncodeIntent(const Intent& intent) {
  Struct s;
  PutString(s, "op", intent.op);
  PutString(s, "ns", intent.ns);
  PutString(s, "key", intent.key);
  PutString(s, "name", intent.name);
  PutString(s, "parent", intent.parent);
  PutString(s, "old_backend_key", intent.old_backend_key);
  PutString(s, "new_backend_key", intent.new_backend_key);
  PutString(s, "digest", intent.digest);
  PutString(s, "size", std::to_string(intent.size));
  PutString(s, "lease", intent.lease);
  PutString(s, "created_ns", std::to_string(intent.created_ns));
  Struct* labels = (*s.mutable_fields())["labels"].mutable_struct_value();
  for (const auto& [k, v] : intent.labels) (*labels->mutable_fields())[k].set_string_value(v);
  return s.SerializeAsString();
}

Result<Intent> DecodeIntent(std::string_view bytes) {
  Struct s;
  if (!s.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Unknown("corrupt intent");
  }
  Intent intent;
  intent.op = GetString(s, "op");
  if (intent.op.empty()) return Status::Unknown("corrupt intent: no op");
  intent.ns = GetString(s, "ns");
  intent.key = GetString(s, "key");
  intent.name = GetString(s, "name");
  intent.parent = GetString(s, "parent");
  intent.old_backend_key = GetString(s, "old_backend_key");
  intent.new_backend_key = GetString(s, "new_backend_key");
  intent.digest = GetString(s, "digest");
  intent.lease = GetString(s, "lease");
  auto size = GetInt(s, "size");
  if (!size.ok()) return size.status();
  intent.size = *size;
  auto created = GetInt(s, "created_ns");
  if (!created.ok()) return created.status();
  intent.created_ns = *created;
  auto labels = s.fields().find("labels");
  if (labels != s.fields().end()) {
    for (const auto& [k, v] : labels->second.struct_value().fields()) {
      intent.labels[k] = v.string_value();
    }
  }
  return intent;
}

namespace keys {
std::string SnapshotIntentPrefix(std::string_view snapshotter) {
  return std::string(kIntentsRoot) + "snapshots/" + std::string(snapshotter) + "/";
}
std::string SnapshotIntent(std::string_view snapshotter, std::string_view new_backend_key) {
  return SnapshotIntentPrefix(snapshotter) + std::string(new_backend_key);
}
std::string ContentIntent(std::string_view ns, std::string_view ref) {
  return std::string(kContentIntentPrefix) + std::string(ns) + "/" + std::string(ref);
}
}  // namespace keys

}  // namespace berth::host::metadata
