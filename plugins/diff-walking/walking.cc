// The walking differ (see walking.h).
#include "walking.h"

#include <optional>
#include <random>
#include <string_view>
#include <utility>

#include "apply.h"
#include "compare.h"
#include "fs_ops.h"
#include "layer_stream.h"

namespace berth::diff_walking {
namespace {

bool HasOption(const Mount& m, std::string_view option) {
  for (const auto& o : m.options) {
    if (o == option) return true;
  }
  return false;
}

// containerd's getOverlayPath: the upperdir and the lowerdirs of an overlay
// mount; nullopt when there is no upperdir (a read-only overlay).
std::optional<ApplyTarget> OverlayTarget(const Mount& m) {
  constexpr std::string_view kUpper = "upperdir=";
  constexpr std::string_view kLower = "lowerdir=";
  ApplyTarget target;
  target.overlay = true;
  for (const auto& o : m.options) {
    std::string_view opt = o;
    if (opt.starts_with(kUpper)) {
      target.root = std::string(opt.substr(kUpper.size()));
    } else if (opt.starts_with(kLower)) {
      std::string_view rest = opt.substr(kLower.size());
      target.parents.clear();
      std::size_t pos = 0;
      while (pos <= rest.size()) {
        std::size_t next = rest.find(':', pos);
        if (next == std::string_view::npos) next = rest.size();
        if (next > pos) target.parents.emplace_back(rest.substr(pos, next - pos));
        pos = next + 1;
      }
    } else if (opt == "userxattr") {
      target.userxattr = true;
    }
  }
  if (target.root.empty()) return std::nullopt;
  // Relative lowerdirs (a compacted mount) are relative to the mount's
  // working directory, which we do not know: no parent metadata then.
  std::erase_if(target.parents, [](const std::string& p) { return p.empty() || p[0] != '/'; });
  return target;
}

bool IsBind(const Mount& m) {
  return m.type == "bind" || m.type == "rbind" || HasOption(m, "bind") ||
         HasOption(m, "rbind");
}

std::string UniqueRef() {
  std::random_device rd;
  std::uniform_int_distribution<unsigned> byte(0, 255);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string ref = "walking-diff-";
  for (int i = 0; i < 12; ++i) {
    unsigned b = byte(rd);
    ref += kHex[b >> 4];
    ref += kHex[b & 15];
  }
  return ref;
}

// A directory holding a mount set for reading: the source of a single
// bind, else a read-only temporary mount (an empty directory for no mounts).
class ReadableTree {
 public:
  Status Open(const std::vector<Mount>& mounts, const std::string& temp_base) {
    if (mounts.size() == 1 && IsBind(mounts[0]) && mounts[0].target.empty()) {
      path_ = mounts[0].source;
      return Status::Ok();
    }
    auto tm = TempMount::Create(mounts, temp_base, /*read_only=*/true);
    if (!tm.ok()) return tm.status();
    mount_ = std::move(*tm);
    path_ = mount_.path();
    return Status::Ok();
  }
  const std::string& path() const { return path_; }
  Status Release() { return mount_.Release(); }

 private:
  std::string path_;
  TempMount mount_;
};

}  // namespace

Result<Descriptor> WalkingDiffer::Apply(ContentStore& content, const Descriptor& desc,
                                        const std::vector<Mount>& mounts,
                                        const ApplyOptions& opts) {
  if (mounts.empty()) return Status::InvalidArgument("no mounts to apply onto");
  auto layer = LayerReader::Open(content, desc);
  if (!layer.ok()) return layer.status();

  std::optional<ApplyTarget> target;
  if (mounts.size() == 1 && mounts[0].type == "overlay") {
    target = OverlayTarget(mounts[0]);
  } else if (mounts.size() == 1 && IsBind(mounts[0]) && mounts[0].target.empty()) {
    target.emplace();
    target->root = mounts[0].source;
  }
  TempMount temp;
  if (!target.has_value()) {
    auto tm = TempMount::Create(mounts, TempBase(options_.temp_dir),
                                /*read_only=*/false);
    if (!tm.ok()) return tm.status();
    temp = std::move(*tm);
    target.emplace();
    target->root = temp.path();
  }

  Status applied = ApplyLayer(**layer, *target);
  Result<Descriptor> result =
      applied.ok() ? (*layer)->Finish() : Result<Descriptor>(applied);
  Status released = temp.Release();
  if (!result.ok()) {
    return result.status().Annotate("failed to apply layer " + desc.digest);
  }
  if (!released.ok()) return released;
  return result;
}

Result<Descriptor> WalkingDiffer::Compare(ContentStore& content,
                                          const std::vector<Mount>& lower,
                                          const std::vector<Mount>& upper,
                                          const DiffOptions& opts) {
  namespace mt = media_types;
  const std::string media_type =
      opts.media_type.empty() ? std::string(mt::kOciLayerGzip) : opts.media_type;
  Compression compression;
  if (media_type == mt::kOciLayer) {
    compression = Compression::kNone;
  } else if (media_type == mt::kOciLayerGzip) {
    compression = Compression::kGzip;
  } else if (media_type == mt::kOciLayerZstd) {
    compression = Compression::kZstd;
  } else {
    return Status::NotImplemented("unsupported diff media type: " + media_type);
  }
  if (upper.empty()) return Status::InvalidArgument("no upper mounts to compare");

  const std::string temp_base = TempBase(options_.temp_dir);
  ReadableTree lower_tree;
  BERTH_RETURN_IF_ERROR(lower_tree.Open(lower, temp_base));
  ReadableTree upper_tree;
  BERTH_RETURN_IF_ERROR(upper_tree.Open(upper, temp_base));

  const bool new_ref = opts.ref.empty();
  const std::string ref = new_ref ? UniqueRef() : opts.ref;
  auto writer = content.Writer(WriterOptions{ref, 0, ""});
  if (!writer.ok()) return writer.status().Annotate("failed to open writer");
  auto fail = [&](Status st) -> Status {
    writer->reset();
    if (new_ref) (void)content.Abort(ref);
    return st;
  };
  if (!new_ref) {
    Status st = (*writer)->Truncate(0);
    if (!st.ok()) return fail(st);
  }

  std::string uncompressed;
  {
    auto layer = LayerWriter::Create(**writer, compression);
    if (!layer.ok()) return fail(layer.status());
    Status st = WriteDiff(lower_tree.path(), upper_tree.path(), **layer);
    if (st.ok()) st = (*layer)->Close();
    if (!st.ok()) return fail(st.Annotate("failed to write diff"));
    uncompressed = (*layer)->UncompressedDigest();
  }
  BERTH_RETURN_IF_ERROR(upper_tree.Release());
  BERTH_RETURN_IF_ERROR(lower_tree.Release());

  Labels labels = opts.labels;
  labels[std::string(kLabelUncompressed)] = uncompressed;
  const std::string digest = (*writer)->Digest();
  Status committed = (*writer)->Commit(0, digest, labels);
  writer->reset();
  if (!committed.ok() && !committed.Is(Code::kAlreadyExists)) {
    if (new_ref) (void)content.Abort(ref);
    return committed.Annotate("failed to commit");
  }
  auto info = content.Info(digest);
  if (!info.ok()) return info.status().Annotate("failed to get info from content store");
  if (!info->labels.contains(std::string(kLabelUncompressed))) {
    info->labels[std::string(kLabelUncompressed)] = uncompressed;
    auto updated = content.Update(*info, {"labels." + std::string(kLabelUncompressed)});
    if (!updated.ok()) {
      return updated.status().Annotate("error setting uncompressed label");
    }
  }
  Descriptor out;
  out.media_type = media_type;
  out.digest = info->digest;
  out.size = info->size;
  return out;
}

}  // namespace berth::diff_walking
