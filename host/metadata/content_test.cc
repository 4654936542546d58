// The namespaced content view over the real content-local plugin, loaded and
// initialised through the host's own loader and plugin set.
#include "metadata/content.h"

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "berth/digest.h"
#include "berth/runner/loader.h"
#include "core/plugin_set.h"
#include "test_util.h"
#include "metadata/plugin.h"

namespace berth::host::metadata {
namespace {

std::string ContentLocalPath() {
  // The fixture folder is <build>/tests/fixtures; plugins are built into
  // <build>/lib/berth/plugins.
  return std::string(BERTH_TEST_FIXTURE_DIR) +
         "/../../lib/berth/plugins/content-local.so";
}

class NamespacedContentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    ASSERT_TRUE(std::filesystem::exists(ContentLocalPath()))
        << "build the content-local target first: " << ContentLocalPath();
    std::vector<SourcedRegistration> regs;
    regs.push_back({MetadataRegistration(HostEnv{}), ""});
    Status loaded = loader_.LoadFile(ContentLocalPath(), regs);
    ASSERT_TRUE(loaded.ok()) << loaded.ToString();
    set_.Add(std::move(regs));
    InitParams params;
    params.root = dir_.path() + "/root";
    params.state = dir_.path() + "/state";
    std::vector<ConfigWarning> warnings;
    ASSERT_TRUE(set_.Init(params, &warnings).ok());
    const PluginRecord* md = set_.Find("io.containerd.metadata.v1.leveldb");
    ASSERT_NE(md, nullptr);
    ASSERT_EQ(md->state, PluginState::kOk) << md->init_status.ToString();
    md_ = std::dynamic_pointer_cast<MetadataPlugin>(md->instance);
    ASSERT_NE(md_, nullptr);
    inited_ = true;
  }
  void TearDown() override {
    md_.reset();
    if (inited_) set_.Close();
  }

  Status Put(const std::string& ns, const std::string& ref,
             const std::string& data, Labels labels = {}) {
    auto w = md_->content().Writer(ns, {ref, static_cast<std::int64_t>(data.size()), ""});
    if (!w.ok()) return w.status();
    BERTH_RETURN_IF_ERROR((*w)->Write(data.data(), data.size()));
    return (*w)->Commit(data.size(), Sha256Of(data), labels);
  }
  std::string BlobPath(const std::string& digest) {
    return dir_.path() + "/root/io.containerd.content.v1.content/blobs/sha256/" +
           digest.substr(7);
  }

  testing::TempDir dir_;
  PluginLoader loader_;
  PluginSet set_;
  std::shared_ptr<MetadataPlugin> md_;
  bool inited_ = false;
};

TEST_F(NamespacedContentTest, BlobVisibleOnlyWhereWrittenOrReferenced) {
  const std::string data = "shared bytes";
  const std::string digest = Sha256Of(data);
  ASSERT_TRUE(Put("a", "r1", data, {{"k", "a"}}).ok());
  NamespacedContentStore& cs = md_->content();
  ASSERT_TRUE(cs.Info("a", digest).ok());
  EXPECT_TRUE(cs.Info("b", digest).status().Is(Code::kNotFound));
  EXPECT_TRUE(cs.ReaderAt("b", digest).status().Is(Code::kNotFound));

  // Same expected digest in "a": AlreadyExists at open.
  EXPECT_TRUE(cs.Writer("a", {"r2", 0, digest}).status().Is(Code::kAlreadyExists));
  // In "b" the writer stands at the blob's end; a commit adds the record.
  auto w = cs.Writer("b", {"r2", 0, digest});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->Offset(), static_cast<std::int64_t>(data.size()));
  ASSERT_TRUE((*w)->Commit(data.size(), digest, {{"k", "b"}}).ok());
  auto info_b = cs.Info("b", digest);
  ASSERT_TRUE(info_b.ok());
  EXPECT_EQ(info_b->labels.at("k"), "b");
  EXPECT_EQ(cs.Info("a", digest)->labels.at("k"), "a");
  EXPECT_TRUE(md_->db().GetNamespace("b").ok()) << "writing creates the namespace";

  // Deleting removes only the namespace's record; the bytes go with the next
  // garbage collection once no record is left.
  ASSERT_TRUE(cs.Delete("a", digest).ok());
  EXPECT_TRUE(cs.Info("a", digest).status().Is(Code::kNotFound));
  EXPECT_TRUE(cs.Info("b", digest).ok());
  EXPECT_TRUE(cs.Delete("a", digest).Is(Code::kNotFound));
  ASSERT_TRUE(cs.Delete("b", digest).ok());
  EXPECT_TRUE(std::filesystem::exists(BlobPath(digest)));
  auto stats = md_->GarbageCollect();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->content_removed, 1);
  EXPECT_FALSE(std::filesystem::exists(BlobPath(digest)));
}

TEST_F(NamespacedContentTest, SharedWriterCopiesWhenWrittenTo) {
  const std::string data = "0123456789";
  const std::string digest = Sha256Of(data);
  ASSERT_TRUE(Put("a", "r", data).ok());
  auto w = md_->content().Writer("b", {"r", 0, digest});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Truncate(4).ok());
  EXPECT_EQ((*w)->Offset(), 4);
  ASSERT_TRUE((*w)->Write(data.data() + 4, 6).ok());
  ASSERT_TRUE((*w)->Commit(10, digest, {}).ok());
  EXPECT_TRUE(md_->content().Info("b", digest).ok());
}

TEST_F(NamespacedContentTest, UpdateWalkAndFilters) {
  ASSERT_TRUE(Put("n", "x", "x", {{"kind", "x"}}).ok());
  ASSERT_TRUE(Put("n", "y", "y", {{"kind", "y"}}).ok());
  NamespacedContentStore& cs = md_->content();
  ContentInfo upd;
  upd.digest = Sha256Of("x");
  upd.labels = {{"extra", "1"}};
  auto r = cs.Update("n", upd, {"labels.extra"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->labels, (Labels{{"extra", "1"}, {"kind", "x"}}));
  EXPECT_TRUE(cs.Update("n", upd, {"size"}).status().Is(Code::kInvalidArgument));
  upd.labels = {{"big", std::string(kMaxLabelSize, 'v')}};
  EXPECT_TRUE(cs.Update("n", upd, {}).status().Is(Code::kInvalidArgument));

  auto f = filters::ParseAll({"labels.kind==y", "labels.extra"});
  ASSERT_TRUE(f.ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(cs.Walk("n", *f, [&](const ContentInfo& i) {
    seen.push_back(i.digest);
    return Status::Ok();
  }).ok());
  EXPECT_EQ(seen.size(), 2u);
  seen.clear();
  ASSERT_TRUE(cs.Walk("other", filters::Filter(), [&](const ContentInfo& i) {
    seen.push_back(i.digest);
    return Status::Ok();
  }).ok());
  EXPECT_TRUE(seen.empty());
}

TEST_F(NamespacedContentTest, IngestsArePerNamespace) {
  NamespacedContentStore& cs = md_->content();
  auto wa = cs.Writer("a", {"same-ref", 0, ""});
  ASSERT_TRUE(wa.ok());
  auto wb = cs.Writer("b", {"same-ref", 0, ""});
  ASSERT_TRUE(wb.ok()) << "the same ref in another namespace is another ingest";
  ASSERT_TRUE((*wa)->Write("aaa", 3).ok());
  EXPECT_TRUE(cs.Writer("a", {"same-ref", 0, ""}).status().Is(Code::kUnavailable));
  wa->reset();
  auto st = cs.GetStatus("a", "same-ref");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->ref, "same-ref");
  EXPECT_EQ(st->offset, 3);
  auto list = cs.ListStatuses("b", filters::Filter());
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].offset, 0);
  ASSERT_TRUE(cs.Abort("a", "same-ref").ok());
  EXPECT_TRUE(cs.GetStatus("a", "same-ref").status().Is(Code::kNotFound));
}

TEST_F(NamespacedContentTest, NamespaceLifecycle) {
  MetadataStore& db = md_->db();
  ASSERT_TRUE(db.CreateNamespace({"team", {{"owner", "me"}}}).ok());
  EXPECT_TRUE(db.CreateNamespace({"team", {}}).Is(Code::kAlreadyExists));
  EXPECT_TRUE(db.CreateNamespace({"bad/name", {}}).Is(Code::kInvalidArgument));
  auto upd = db.UpdateNamespace({"team", {{"x", "y"}}}, {"labels.x"});
  ASSERT_TRUE(upd.ok());
  EXPECT_EQ(upd->labels.size(), 2u);
  ASSERT_TRUE(Put("team", "r", "payload").ok());
  Status s = db.DeleteNamespace("team");
  EXPECT_TRUE(s.Is(Code::kFailedPrecondition)) << s.ToString();
  EXPECT_NE(s.message().find("content"), std::string::npos);
  ASSERT_TRUE(md_->content().Delete("team", Sha256Of("payload")).ok());
  EXPECT_TRUE(db.DeleteNamespace("team").ok());
  EXPECT_TRUE(db.DeleteNamespace("team").Is(Code::kNotFound));
  EXPECT_TRUE(db.GetNamespace("team").status().Is(Code::kNotFound));
}

}  // namespace
}  // namespace berth::host::metadata
