#include "berth/snapshot_storage.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace berth::snapshots {
namespace {

class MetaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/berth-store-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    auto s = MetaStore::Open(dir_ + "/metadata.db", {.sync = false});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  // Prepares `key` over `parent` and commits it as `name`.
  void Layer(const std::string& name, const std::string& parent) {
    auto c = store_->CreateSnapshot(Kind::kActive, name + "-key", parent, {});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    auto id = store_->CommitActive(name + "-key", name, {10, 2}, {});
    ASSERT_TRUE(id.ok()) << id.status().ToString();
  }

  std::string dir_;
  std::unique_ptr<MetaStore> store_;
};

TEST_F(MetaStoreTest, CreateAssignsFreshIdsAndParentChain) {
  Layer("base", "");
  Layer("mid", "base");
  auto a = store_->CreateSnapshot(Kind::kActive, "top", "mid", {{"a", "b"}});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->id, "3");
  EXPECT_EQ(a->parent_ids, (std::vector<std::string>{"2", "1"}));
  auto info = store_->GetInfo("top");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->info.kind, Kind::kActive);
  EXPECT_EQ(info->info.parent, "mid");
  EXPECT_EQ(info->info.labels.at("a"), "b");
  EXPECT_EQ(info->info.created, info->info.updated);

  auto g = store_->GetSnapshot("top");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->parent_ids, a->parent_ids);
}

TEST_F(MetaStoreTest, ContainerdRulesAndCodes) {
  Layer("base", "");
  ASSERT_TRUE(store_->CreateSnapshot(Kind::kActive, "act", "base", {}).ok());
  ASSERT_TRUE(store_->CreateSnapshot(Kind::kView, "view", "base", {}).ok());

  EXPECT_EQ(store_->CreateSnapshot(Kind::kActive, "act", "", {}).status().code(),
            Code::kAlreadyExists);
  EXPECT_EQ(store_->CreateSnapshot(Kind::kActive, "x", "nope", {}).status().code(),
            Code::kNotFound);
  EXPECT_EQ(store_->CreateSnapshot(Kind::kActive, "x", "act", {}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(store_->CreateSnapshot(Kind::kCommitted, "x", "", {}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(store_->CommitActive("view", "v2", {}, {}).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(store_->CommitActive("act", "base", {}, {}).status().code(),
            Code::kAlreadyExists);
  EXPECT_EQ(store_->CommitActive("gone", "n", {}, {}).status().code(),
            Code::kNotFound);
  EXPECT_EQ(store_->GetSnapshot("base").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(store_->GetSnapshot("gone").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Remove("base").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(store_->Remove("gone").status().code(), Code::kNotFound);
  // The failed calls changed nothing.
  EXPECT_EQ(store_->IdMap()->size(), 3u);
}

TEST_F(MetaStoreTest, CommitKeepsIdDropsKeyAndRelinksChildren) {
  Layer("base", "");
  ASSERT_TRUE(store_->CreateSnapshot(Kind::kActive, "k", "base", {{"x", "1"}}).ok());
  auto id = store_->CommitActive("k", "layer", {4096, 7}, {{"y", "2"}});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "2");
  EXPECT_EQ(store_->GetInfo("k").status().code(), Code::kNotFound);
  auto info = store_->GetInfo("layer");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->id, "2");
  EXPECT_EQ(info->info.kind, Kind::kCommitted);
  EXPECT_EQ(info->info.labels, (Labels{{"y", "2"}}));
  EXPECT_EQ(info->usage.size, 4096);
  EXPECT_EQ(info->usage.inodes, 7);
  // base now has the committed child; removing it is refused until the child goes.
  EXPECT_EQ(store_->Remove("base").status().code(), Code::kFailedPrecondition);
  ASSERT_TRUE(store_->Remove("layer").ok());
  auto removed = store_->Remove("base");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->id, "1");
  EXPECT_EQ(removed->kind, Kind::kCommitted);
}

TEST_F(MetaStoreTest, IdsAreNeverReusedAcrossReopen) {
  ASSERT_TRUE(store_->CreateSnapshot(Kind::kActive, "a", "", {}).ok());
  ASSERT_TRUE(store_->Remove("a").ok());
  Reopen();
  auto b = store_->CreateSnapshot(Kind::kActive, "b", "", {});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->id, "2");
}

TEST_F(MetaStoreTest, BeforeCommitFailureLeavesNoRecord) {
  auto s = store_->CreateSnapshot(Kind::kActive, "a", "", {},
                                  [](const StoredSnapshot&) {
                                    return Status::Unknown("disk full");
                                  });
  EXPECT_EQ(s.status().code(), Code::kUnknown);
  EXPECT_EQ(store_->GetInfo("a").status().code(), Code::kNotFound);
  ASSERT_TRUE(store_->CreateSnapshot(Kind::kActive, "a", "", {}).ok());
  EXPECT_EQ(store_->Remove("a", [](const StoredSnapshot&) {
                      return Status::Unknown("no");
                    }).status().code(),
            Code::kUnknown);
  EXPECT_TRUE(store_->GetInfo("a").ok());
}

TEST_F(MetaStoreTest, UpdateFollowsFieldPaths) {
  ASSERT_TRUE(
      store_->CreateSnapshot(Kind::kActive, "a", "", {{"keep", "1"}, {"drop", "2"}})
          .ok());
  Info in;
  in.name = "a";
  in.labels = {{"new", "3"}};
  auto u = store_->UpdateInfo(in, {"labels.new", "labels.drop"});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->labels, (Labels{{"keep", "1"}, {"new", "3"}}));
  EXPECT_GE(u->updated, u->created);
  u = store_->UpdateInfo(in, {});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->labels, (Labels{{"new", "3"}}));
  EXPECT_EQ(store_->UpdateInfo(in, {"parent"}).status().code(),
            Code::kInvalidArgument);
  in.name = "missing";
  EXPECT_EQ(store_->UpdateInfo(in, {}).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetInfo("a")->info.labels, (Labels{{"new", "3"}}));
}

TEST_F(MetaStoreTest, WalkFilters) {
  Layer("base", "");
  ASSERT_TRUE(store_->CreateSnapshot(Kind::kActive, "act", "base", {{"l", "v"}}).ok());
  ASSERT_TRUE(store_->CreateSnapshot(Kind::kView, "view", "base", {}).ok());
  auto names = [&](std::vector<std::string> f) {
    std::vector<std::string> out;
    Status s = store_->WalkInfo(
        [&](const std::string&, const Info& i) {
          out.push_back(i.name);
          return Status::Ok();
        },
        f);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  };
  EXPECT_EQ(names({}), (std::vector<std::string>{"act", "base", "view"}));
  EXPECT_EQ(names({"kind==view"}), (std::vector<std::string>{"view"}));
  EXPECT_EQ(names({"parent==base,labels.l==v"}), (std::vector<std::string>{"act"}));
  EXPECT_EQ(names({"kind==committed", "name==view"}),
            (std::vector<std::string>{"base", "view"}));
  Status bad = store_->WalkInfo(
      [](const std::string&, const Info&) { return Status::Ok(); }, {"name=="});
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  // A callback error stops the walk and comes back.
  int calls = 0;
  Status stop = store_->WalkInfo(
      [&](const std::string&, const Info&) {
        ++calls;
        return Status::Canceled("stop");
      },
      {});
  EXPECT_EQ(stop.code(), Code::kCanceled);
  EXPECT_EQ(calls, 1);
}

TEST_F(MetaStoreTest, KeysWithOddBytesRoundTrip) {
  const std::string key = std::string("a/../b\0c", 8) + std::string(300, 'x');
  ASSERT_TRUE(store_->CreateSnapshot(Kind::kActive, key, "", {}).ok());
  auto ids = store_->IdMap();
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->at("1"), key);
  EXPECT_TRUE(store_->GetInfo(key).ok());
  EXPECT_EQ(store_->GetInfo("a/../b").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace berth::snapshots
