#include "metadata/content.h"

#include <chrono>

#include "berth/digest.h"
#include "containerd/services/content/v1/content.pb.h"
#include "services/grpc_status.h"

namespace berth::host::metadata {
namespace {

namespace cpb = containerd::services::content::v1;

void ToProtoTime(Timestamp t, google::protobuf::Timestamp* out) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                t.time_since_epoch()).count();
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int>(ns % 1000000000));
}

Timestamp FromProtoTime(const google::protobuf::Timestamp& t) {
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      std::chrono::seconds(t.seconds()) + std::chrono::nanoseconds(t.nanos())));
}

std::string EncodeInfo(const ContentInfo& info) {
  cpb::Info pb;
  pb.set_digest(info.digest);
  pb.set_size(info.size);
  ToProtoTime(info.created_at, pb.mutable_created_at());
  ToProtoTime(info.updated_at, pb.mutable_updated_at());
  for (const auto& [k, v] : info.labels) (*pb.mutable_labels())[k] = v;
  return pb.SerializeAsString();
}

Result<ContentInfo> DecodeInfo(std::string_view bytes) {
  cpb::Info pb;
  if (!pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Unknown("corrupt content record");
  }
  ContentInfo info;
  info.digest = pb.digest();
  info.size = pb.size();
  info.created_at = FromProtoTime(pb.created_at());
  info.updated_at = FromProtoTime(pb.updated_at());
  info.labels.insert(pb.labels().begin(), pb.labels().end());
  return info;
}

// The writer a namespace gets: the backend's writer, or none yet for a blob
// that already exists elsewhere (it then stands at the blob's end).
class NamespacedWriter : public ContentWriter {
 public:
  NamespacedWriter(NamespacedContentStore* store, std::string ns,
                   std::string backend_ref, WriterOptions options,
                   std::unique_ptr<ContentWriter> backend_writer,
                   std::int64_t shared_size)
      : store_(store),
        ns_(std::move(ns)),
        backend_ref_(std::move(backend_ref)),
        options_(std::move(options)),
        w_(std::move(backend_writer)),
        shared_size_(shared_size),
        started_at_(std::chrono::system_clock::now()) {}

  Status Write(const void* data, std::size_t size) override {
    if (size == 0) return Status::Ok();
    if (!w_) BERTH_RETURN_IF_ERROR(Unshare(shared_size_));
    return w_->Write(data, size);
  }
  std::string Digest() const override {
    return w_ ? w_->Digest() : options_.expected;
  }
  std::int64_t Offset() const override {
    return w_ ? w_->Offset() : shared_size_;
  }
  Result<IngestStatus> Stat() const override {
    if (w_) {
      auto st = w_->Stat();
      if (st.ok()) st->ref = options_.ref;
      return st;
    }
    IngestStatus st;
    st.ref = options_.ref;
    st.offset = shared_size_;
    st.total = shared_size_;
    st.expected = options_.expected;
    st.started_at = st.updated_at = started_at_;
    return st;
  }
  Status Truncate(std::int64_t size) override {
    if (w_) return w_->Truncate(size);
    if (size < 0 || size > shared_size_) {
      return Status::InvalidArgument("truncate outside written range");
    }
    return Unshare(size);
  }
  Status Commit(std::int64_t size, std::string_view expected,
                const Labels& labels) override {
    BERTH_RETURN_IF_ERROR(ValidateLabels(labels));
    std::string digest;
    std::int64_t actual_size = 0;
    if (!w_) {
      if (size != 0 && size != shared_size_) {
        return Status::FailedPrecondition(
            "\"" + options_.ref + "\" failed size validation: " +
            std::to_string(shared_size_) + " != " + std::to_string(size));
      }
      if (!expected.empty() && expected != options_.expected) {
        return Status::FailedPrecondition("\"" + options_.ref +
                                          "\" unexpected digest");
      }
      digest = options_.expected;
      actual_size = shared_size_;
    } else {
      actual_size = w_->Offset();
      Status s = w_->Commit(size, expected, labels);
      if (!s.ok() && !s.Is(Code::kAlreadyExists)) return s;
      digest = w_->Digest();
    }
    return store_->AddRecord(ns_, digest, actual_size, labels);
  }

 private:
  // Starts a backend ingest holding the first `size` bytes of the blob.
  Status Unshare(std::int64_t size) {
    WriterOptions o;
    o.ref = backend_ref_;
    o.total = options_.total;
    auto w = store_->backend().Writer(o);
    if (!w.ok()) return w.status();
    BERTH_RETURN_IF_ERROR((*w)->Truncate(0));
    auto r = store_->backend().ReaderAt(options_.expected);
    if (!r.ok()) return r.status();
    std::string buf(1 << 20, '\0');
    for (std::int64_t off = 0; off < size;) {
      std::size_t want = static_cast<std::size_t>(
          std::min<std::int64_t>(static_cast<std::int64_t>(buf.size()), size - off));
      auto n = (*r)->ReadAt(buf.data(), want, off);
      if (!n.ok()) return n.status();
      if (*n == 0) return Status::Unknown("blob shorter than recorded");
      BERTH_RETURN_IF_ERROR((*w)->Write(buf.data(), *n));
      off += static_cast<std::int64_t>(*n);
    }
    w_ = std::move(*w);
    return Status::Ok();
  }

  NamespacedContentStore* store_;
  std::string ns_;
  std::string backend_ref_;
  WriterOptions options_;
  std::unique_ptr<ContentWriter> w_;
  std::int64_t shared_size_;
  Timestamp started_at_;
};

}  // namespace

NamespacedContentStore::NamespacedContentStore(MetadataStore* db,
                                               std::shared_ptr<ContentStore> backend)
    : db_(db), backend_(std::move(backend)) {}

std::string NamespacedContentStore::BackendRef(std::string_view ns,
                                               std::string_view ref) {
  return std::string(ns) + "/" + std::string(ref);
}

Result<ContentInfo> NamespacedContentStore::Info(std::string_view ns,
                                                 std::string_view digest) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  auto v = db_->Get(keys::ContentBlob(ns, digest));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return Status::NotFound("content " + std::string(digest));
  return DecodeInfo(**v);
}

Result<ContentInfo> NamespacedContentStore::Update(
    std::string_view ns, const ContentInfo& info,
    const std::vector<std::string>& fieldpaths) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(info.digest));
  std::lock_guard<std::mutex> lock(db_->write_mutex());
  auto current = Info(ns, info.digest);
  if (!current.ok()) return current.status();
  Status s = ApplyLabelUpdate(current->labels, info.labels, fieldpaths);
  if (!s.ok()) {
    return Status::InvalidArgument(s.message() + " \"" + info.digest + "\"");
  }
  BERTH_RETURN_IF_ERROR(ValidateLabels(current->labels));
  current->updated_at = std::chrono::system_clock::now();
  leveldb::WriteBatch batch;
  batch.Put(keys::ContentBlob(ns, info.digest), EncodeInfo(*current));
  BERTH_RETURN_IF_ERROR(db_->Write(batch));
  return current;
}

Status NamespacedContentStore::Walk(
    std::string_view ns, const filters::Filter& filter,
    const std::function<Status(const ContentInfo&)>& fn) {
  std::vector<ContentInfo> matched;
  Status bad;
  BERTH_RETURN_IF_ERROR(db_->Scan(keys::ContentBlobPrefix(ns),
                                  [&](std::string_view, std::string_view value) {
                                    auto info = DecodeInfo(value);
                                    if (!info.ok()) {
                                      bad = info.status();
                                      return false;
                                    }
                                    if (filter.Match(AdaptContentInfo(*info))) {
                                      matched.push_back(std::move(*info));
                                    }
                                    return true;
                                  }));
  BERTH_RETURN_IF_ERROR(bad);
  for (const ContentInfo& info : matched) BERTH_RETURN_IF_ERROR(fn(info));
  return Status::Ok();
}

Status NamespacedContentStore::Delete(std::string_view ns, std::string_view digest) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  {
    std::lock_guard<std::mutex> lock(db_->write_mutex());
    auto current = Info(ns, digest);
    if (!current.ok()) return current.status();
    leveldb::WriteBatch batch;
    batch.Delete(keys::ContentBlob(ns, digest));
    batch.Delete(keys::ContentIndex(digest, ns));
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  return CollectIfUnreferenced(digest);
}

Status NamespacedContentStore::CollectIfUnreferenced(std::string_view digest) {
  // Holding the write mutex keeps a concurrent commit from adding a
  // reference between the check and the removal.
  std::lock_guard<std::mutex> lock(db_->write_mutex());
  auto referenced = db_->HasPrefix(keys::ContentIndexPrefix(digest));
  if (!referenced.ok()) return referenced.status();
  if (*referenced) return Status::Ok();
  Status s = backend_->Delete(digest);
  if (s.Is(Code::kNotFound)) return Status::Ok();
  return s;
}

Result<std::unique_ptr<ContentReader>> NamespacedContentStore::ReaderAt(
    std::string_view ns, std::string_view digest) {
  auto info = Info(ns, digest);
  if (!info.ok()) return info.status();
  return backend_->ReaderAt(digest);
}

Result<std::unique_ptr<ContentWriter>> NamespacedContentStore::Writer(
    std::string_view ns, const WriterOptions& options) {
  BERTH_RETURN_IF_ERROR(ValidateRef(options.ref));
  std::int64_t shared_size = -1;
  if (!options.expected.empty()) {
    BERTH_RETURN_IF_ERROR(ValidateDigest(options.expected));
    if (Info(ns, options.expected).ok()) {
      return Status::AlreadyExists("content " + options.expected);
    }
    auto existing = backend_->Info(options.expected);
    if (existing.ok() && (options.total == 0 || options.total == existing->size)) {
      shared_size = existing->size;
    }
  }
  std::unique_ptr<ContentWriter> backend_writer;
  if (shared_size < 0) {
    WriterOptions o = options;
    o.ref = BackendRef(ns, options.ref);
    auto w = backend_->Writer(o);
    if (!w.ok()) return w.status();
    backend_writer = std::move(*w);
  }
  return std::unique_ptr<ContentWriter>(std::make_unique<NamespacedWriter>(
      this, std::string(ns), BackendRef(ns, options.ref), options,
      std::move(backend_writer), shared_size < 0 ? 0 : shared_size));
}

Status NamespacedContentStore::AddRecord(std::string_view ns, std::string_view digest,
                                         std::int64_t size, const Labels& labels) {
  std::lock_guard<std::mutex> lock(db_->write_mutex());
  if (Info(ns, digest).ok()) return Status::AlreadyExists("content " + std::string(digest));
  ContentInfo info;
  info.digest = std::string(digest);
  info.size = size;
  info.created_at = info.updated_at = std::chrono::system_clock::now();
  info.labels = labels;
  leveldb::WriteBatch batch;
  BERTH_RETURN_IF_ERROR(db_->EnsureNamespace(ns, batch));
  batch.Put(keys::ContentBlob(ns, digest), EncodeInfo(info));
  batch.Put(keys::ContentIndex(digest, ns), "");
  return db_->Write(batch);
}

Result<IngestStatus> NamespacedContentStore::GetStatus(std::string_view ns,
                                                       std::string_view ref) {
  BERTH_RETURN_IF_ERROR(ValidateRef(ref));
  auto st = backend_->GetStatus(BackendRef(ns, ref));
  if (!st.ok()) {
    if (st.status().Is(Code::kNotFound)) {
      return Status::NotFound("ref " + std::string(ref));
    }
    return st.status();
  }
  st->ref = std::string(ref);
  return st;
}

Result<std::vector<IngestStatus>> NamespacedContentStore::ListStatuses(
    std::string_view ns, const filters::Filter& filter) {
  auto all = backend_->ListStatuses(filters::Filter());
  if (!all.ok()) return all.status();
  const std::string prefix = std::string(ns) + "/";
  std::vector<IngestStatus> out;
  for (IngestStatus& st : *all) {
    if (st.ref.compare(0, prefix.size(), prefix) != 0) continue;
    st.ref = st.ref.substr(prefix.size());
    if (filter.Match(AdaptIngestStatus(st))) out.push_back(std::move(st));
  }
  return out;
}

Status NamespacedContentStore::Abort(std::string_view ns, std::string_view ref) {
  BERTH_RETURN_IF_ERROR(ValidateRef(ref));
  Status s = backend_->Abort(BackendRef(ns, ref));
  if (s.Is(Code::kNotFound)) {
    return Status::NotFound("ingest ref \"" + std::string(ref) + "\"");
  }
  return s;
}

}  // namespace berth::host::metadata
