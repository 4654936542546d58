// The Diff service of a real berthd: listed by `ctr plugins ls` as
// containerd's two plugins; layers made by tar(1), ingested with
// `ctr content ingest`, applied through the gRPC Diff client onto overlayfs
// snapshots that `ctr snapshots prepare` made and `commit` committed; then
// `ctr snapshots diff` (which calls Diff.Diff) writes the layer between them.
// And a configured differ that is not loaded failing both plugins.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "berth/digest.h"
#include "berthd_process.h"
#include "btrfs_loop.h"
#include "containerd/services/diff/v1/diff.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "daemon_test.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

namespace fs = std::filesystem;
namespace dpb = containerd::services::diff::v1;
namespace spb = containerd::services::snapshots::v1;

constexpr char kGzipLayer[] = "application/vnd.oci.image.layer.v1.tar+gzip";

// The paths in a gzip tar, one a line, "./" stripped.
std::vector<std::string> TarListing(const std::string& gzip, const TempDir& dir) {
  const std::string file = dir.Join("listed.tar.gz");
  EXPECT_TRUE(WriteFile(file, gzip));
  CommandResult r = RunCommand({"tar", "-tzf", file});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  std::vector<std::string> paths;
  std::string line;
  for (char c : r.out + "\n") {
    if (c != '\n') {
      line += c;
      continue;
    }
    if (line.rfind("./", 0) == 0) line = line.substr(2);
    if (!line.empty() && line != ".") paths.push_back(line);
    line.clear();
  }
  return paths;
}

bool Lists(const std::vector<std::string>& paths, const std::string& path) {
  return std::find(paths.begin(), paths.end(), path) != paths.end() ||
         std::find(paths.begin(), paths.end(), path + "/") != paths.end();
}

class DiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BerthdOptions options;
    const std::string walking =
        "[plugins.\"io.containerd.differ.v1.walking\"]\n  temp_dir = \"" + mounts_.path() + "\"\n";
    // What is written is under test, not collection.
    options.extra_toml = kNoCollectionToml + walking;
    berthd_ = std::make_unique<BerthdProcess>(options);
    ASSERT_TRUE(berthd_->Start());
    ASSERT_TRUE(berthd_->WaitServing());
    auto channel = ChannelTo(*berthd_);
    diff_ = dpb::Diff::NewStub(channel);
    snapshots_ = spb::Snapshots::NewStub(channel);
  }
  void TearDown() override {
    berthd_.reset();
    // The differ unmounts what it mounts; whatever a failure left goes here.
    EXPECT_TRUE(DetachMountsUnder(mounts_.path())) << "mounts remain under " << mounts_.path();
  }

  std::string Ctr(const std::vector<std::string>& args) {
    CommandResult r = berthd_->Ctr(args);
    EXPECT_EQ(r.exit_code, 0) << "ctr " << args[0] << " " << args[1] << ": " << r.Describe();
    return r.out;
  }
  // tar(1)+gzip of the files `files` (path → content; a ".wh." name is an
  // OCI whiteout) ingested with ctr; the layer's descriptor. GNU format
  // keeps whole-second mtimes, as the layers Diff writes do (containerd's
  // too), so that a layer written back compares equal.
  dpb::ApplyRequest Layer(const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& files) {
    const std::string src = scratch_.Join(name);
    for (const auto& [path, data] : files) {
      fs::create_directories(fs::path(src + "/" + path).parent_path());
      EXPECT_TRUE(WriteFile(src + "/" + path, data));
    }
    const std::string gz = scratch_.Join(name + ".tar.gz");
    CommandResult tar = RunCommand(
        {"sh", "-c",
         "tar --numeric-owner --format=gnu -C '" + src + "' -c . | gzip -n > '" + gz + "'"});
    EXPECT_EQ(tar.exit_code, 0) << tar.Describe();
    const std::string blob = ReadFile(gz);
    const std::string digest = Sha256Of(blob);
    CommandResult ingest =
        berthd_->Ctr({"content", "ingest", "--expected-digest", digest, "ingest-" + name}, blob);
    EXPECT_EQ(ingest.exit_code, 0) << ingest.Describe();
    dpb::ApplyRequest req;
    req.mutable_diff()->set_media_type(kGzipLayer);
    req.mutable_diff()->set_digest(digest);
    req.mutable_diff()->set_size(static_cast<std::int64_t>(blob.size()));
    return req;
  }
  // Applies `req` onto the active snapshot `key`'s mounts.
  grpc::Status ApplyOnto(const std::string& key, dpb::ApplyRequest req, dpb::ApplyResponse* resp) {
    spb::MountsRequest mreq;
    mreq.set_snapshotter("overlayfs");
    mreq.set_key(key);
    spb::MountsResponse mounts;
    grpc::Status s = snapshots_->Mounts(NamespaceContext().get(), mreq, &mounts);
    if (!s.ok()) return s;
    *req.mutable_mounts() = mounts.mounts();
    return diff_->Apply(NamespaceContext().get(), req, resp);
  }

  TempDir mounts_{"berth-diff-mounts-"};  // the differ's temp_dir
  TempDir scratch_{"berth-diff-"};
  std::unique_ptr<BerthdProcess> berthd_;
  std::unique_ptr<dpb::Diff::Stub> diff_;
  std::unique_ptr<spb::Snapshots::Stub> snapshots_;
};

TEST_F(DiffTest, CtrListsBothPlugins) {
  auto statuses = ParsePluginTable(Ctr({"plugins", "ls"}));
  EXPECT_EQ(statuses["io.containerd.differ.v1.walking"], "ok");
  EXPECT_EQ(statuses["io.containerd.service.v1.diff-service"], "ok");
  EXPECT_EQ(statuses["io.containerd.grpc.v1.diff"], "ok");
}

TEST_F(DiffTest, ApplyCommitAndCtrSnapshotsDiff) {
  Ctr({"snapshots", "prepare", "base-active"});
  dpb::ApplyResponse applied;
  grpc::Status s = ApplyOnto(
      "base-active", Layer("base", {{"base.txt", "base"}, {"gone.txt", "x"}, {"dir/keep", "1"}}),
      &applied);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(applied.applied().media_type(), "application/vnd.oci.image.layer.v1.tar");
  Ctr({"snapshots", "commit", "base", "base-active"});

  Ctr({"snapshots", "prepare", "top-active", "base"});
  s = ApplyOnto("top-active",
                Layer("top", {{"new.txt", "new"}, {".wh.gone.txt", ""}, {"dir/keep", "2"}}),
                &applied);
  ASSERT_TRUE(s.ok()) << s.error_message();
  Ctr({"snapshots", "commit", "top", "top-active"});

  // base → top: the new file, the changed one, the whiteout; not base.txt.
  const std::string layer = Ctr({"snapshots", "diff", "--keep", "base", "top"});
  const auto paths = TarListing(layer, scratch_);
  EXPECT_TRUE(Lists(paths, "new.txt"));
  EXPECT_TRUE(Lists(paths, "dir/keep"));
  EXPECT_TRUE(Lists(paths, ".wh.gone.txt"));
  EXPECT_FALSE(Lists(paths, "base.txt"));

  // Kept (--keep) and labelled with its uncompressed digest.
  const std::string listed = Ctr({"content", "ls"});
  const auto at = listed.find(Sha256Of(layer));
  ASSERT_NE(at, std::string::npos) << listed;
  const std::string row = listed.substr(at, listed.find('\n', at) - at);
  EXPECT_TRUE(Contains(row, "containerd.io/uncompressed=sha256:"));
  EXPECT_TRUE(Contains(row, "containerd.io/gc.root="));

  // One argument: the snapshot against its parent, through views ctr makes.
  EXPECT_EQ(TarListing(Ctr({"snapshots", "diff", "top"}), scratch_), paths);
  const std::string ls = Ctr({"snapshots", "ls"});
  EXPECT_FALSE(Contains(ls, "view"));  // ctr removed its views

  // The written layer applies back: base + layer is top again, so the diff
  // between the two holds no file.
  Ctr({"snapshots", "prepare", "again-active", "base"});
  dpb::ApplyRequest back;
  back.mutable_diff()->set_media_type(kGzipLayer);
  back.mutable_diff()->set_digest(Sha256Of(layer));
  back.mutable_diff()->set_size(static_cast<std::int64_t>(layer.size()));
  s = ApplyOnto("again-active", back, &applied);
  ASSERT_TRUE(s.ok()) << s.error_message();
  Ctr({"snapshots", "commit", "again", "again-active"});
  const auto left = TarListing(Ctr({"snapshots", "diff", "again", "top"}), scratch_);
  for (const std::string& path : left) {
    // At most the directory whose times the apply set.
    EXPECT_TRUE(path == "dir" || path == "dir/") << "differs after apply-back: " << path;
  }
}

TEST(DiffConfigTest, ConfiguredDifferNotLoadedFailsBothPlugins) {
  BerthdOptions options;
  options.extra_toml =
      "[plugins.\"io.containerd.service.v1.diff-service\"]\n"
      "  default = [\"walking\", \"nope\"]\n";
  BerthdProcess berthd(options);
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  CommandResult ls = berthd.Ctr({"plugins", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  auto statuses = ParsePluginTable(ls.out);
  EXPECT_EQ(statuses["io.containerd.differ.v1.walking"], "ok");
  EXPECT_EQ(statuses["io.containerd.service.v1.diff-service"], "error");
  EXPECT_EQ(statuses["io.containerd.grpc.v1.diff"], "error");
  EXPECT_TRUE(Contains(berthd.Log(), "needed differ not loaded: nope"));
}

}  // namespace
}  // namespace berth::test
