#include <algorithm>
#include "local_store.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "berth/digest.h"

namespace berth::content_local {
namespace {

class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/content-local-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    auto s = LocalStore::Open(root_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = *s;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::unique_ptr<ContentWriter> MustWriter(const std::string& ref,
                                            std::int64_t total = 0,
                                            std::string expected = "") {
    auto w = store_->Writer({ref, total, expected});
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? std::move(*w) : nullptr;
  }

  std::string ReadAll(const std::string& digest) {
    auto r = store_->ReaderAt(digest);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    std::string out((*r)->Size(), '\0');
    auto n = (*r)->ReadAt(out.data(), out.size(), 0);
    EXPECT_TRUE(n.ok());
    out.resize(n.ok() ? *n : 0);
    return out;
  }

  std::size_t CountFiles(const std::string& sub) {
    std::size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(root_ + "/" + sub)) {
      (void)e;
      ++n;
    }
    return n;
  }

  std::string root_;
  std::shared_ptr<LocalStore> store_;
};

TEST_F(LocalStoreTest, WriteCommitInfoReadDelete) {
  const std::string data = "hello, content";
  const std::string digest = Sha256Of(data);
  auto w = MustWriter("ref-1", data.size());
  ASSERT_TRUE(w->Write(data.data(), 5).ok());
  ASSERT_TRUE(w->Write(data.data() + 5, data.size() - 5).ok());
  EXPECT_EQ(w->Offset(), static_cast<std::int64_t>(data.size()));
  EXPECT_EQ(w->Digest(), digest);
  ASSERT_TRUE(w->Commit(data.size(), digest, {}).ok());
  w.reset();

  auto info = store_->Info(digest);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, static_cast<std::int64_t>(data.size()));
  EXPECT_EQ(ReadAll(digest), data);
  struct stat st {};
  ASSERT_EQ(stat(store_->BlobPath(digest).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0222, 0u) << "write bits dropped";
  EXPECT_EQ(CountFiles("ingest"), 0u);
  EXPECT_TRUE(store_->GetStatus("ref-1").status().Is(Code::kNotFound));

  int walked = 0;
  ASSERT_TRUE(store_->Walk(filters::Filter(), [&](const ContentInfo& i) {
    EXPECT_EQ(i.digest, digest);
    ++walked;
    return Status::Ok();
  }).ok());
  EXPECT_EQ(walked, 1);

  ASSERT_TRUE(store_->Delete(digest).ok());
  EXPECT_TRUE(store_->Info(digest).status().Is(Code::kNotFound));
  EXPECT_TRUE(store_->Delete(digest).Is(Code::kNotFound));
}

TEST_F(LocalStoreTest, LargeWritesHashedWhileWrittenMatchTheBytes) {
  // Chunks above and below the size that goes to the hash worker, mixed.
  std::string data(5 * (1 << 20) + 12345, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + i / 977);
  auto w = MustWriter("large", data.size());
  const std::size_t chunks[] = {1 << 20, 100, 3 << 20, 65536, 65535};
  std::size_t off = 0;
  for (std::size_t i = 0; off < data.size(); ++i) {
    std::size_t n = std::min(chunks[i % 5], data.size() - off);
    ASSERT_TRUE(w->Write(data.data() + off, n).ok());
    off += n;
    EXPECT_EQ(w->Offset(), static_cast<std::int64_t>(off));
  }
  EXPECT_EQ(w->Digest(), Sha256Of(data));
  ASSERT_TRUE(w->Commit(data.size(), Sha256Of(data), {}).ok());
  EXPECT_EQ(ReadAll(Sha256Of(data)), data);
}

TEST_F(LocalStoreTest, ReadAtOffsetsAndPastEnd) {
  const std::string data(3000, 'q');
  auto w = MustWriter("r");
  ASSERT_TRUE(w->Write(data.data(), data.size()).ok());
  ASSERT_TRUE(w->Commit(0, "", {}).ok());
  auto r = store_->ReaderAt(Sha256Of(data));
  ASSERT_TRUE(r.ok());
  char buf[100];
  auto n = (*r)->ReadAt(buf, sizeof(buf), 2950);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 50u);
  n = (*r)->ReadAt(buf, sizeof(buf), 5000);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

TEST_F(LocalStoreTest, CloseKeepsIngestAndReopenResumes) {
  const std::string data = "0123456789abcdefghij";
  auto w = MustWriter("resume", data.size());
  ASSERT_TRUE(w->Write(data.data(), 8).ok());
  w.reset();

  auto st = store_->GetStatus("resume");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->offset, 8);
  EXPECT_EQ(st->total, static_cast<std::int64_t>(data.size()));
  auto list = store_->ListStatuses(filters::Filter());
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].ref, "resume");

  w = MustWriter("resume");
  EXPECT_EQ(w->Offset(), 8);
  EXPECT_EQ(w->Digest(), Sha256Of(data.substr(0, 8)));
  ASSERT_TRUE(w->Write(data.data() + 8, data.size() - 8).ok());
  ASSERT_TRUE(w->Commit(data.size(), Sha256Of(data), {}).ok());
  EXPECT_EQ(ReadAll(Sha256Of(data)), data);
}

TEST_F(LocalStoreTest, DifferentTotalOnResumeFails) {
  auto w = MustWriter("t", 10);
  ASSERT_TRUE(w->Write("abc", 3).ok());
  w.reset();
  auto again = store_->Writer({"t", 11, ""});
  EXPECT_TRUE(again.status().Is(Code::kFailedPrecondition))
      << again.status().ToString();
  // The lock was released by the failed open.
  EXPECT_TRUE(store_->Writer({"t", 10, ""}).ok());
}

TEST_F(LocalStoreTest, SecondWriterOnRefIsUnavailable) {
  auto w = MustWriter("locked");
  auto second = store_->Writer({"locked", 0, ""});
  EXPECT_TRUE(second.status().Is(Code::kUnavailable));
  EXPECT_NE(second.status().message().find("locked"), std::string::npos);
  w.reset();
  EXPECT_TRUE(store_->Writer({"locked", 0, ""}).ok());
}

TEST_F(LocalStoreTest, WrongDigestAndWrongSizePublishNothing) {
  const std::string data = "payload";
  auto w = MustWriter("bad");
  ASSERT_TRUE(w->Write(data.data(), data.size()).ok());
  Status s = w->Commit(data.size(), Sha256Of("other"), {});
  EXPECT_TRUE(s.Is(Code::kFailedPrecondition)) << s.ToString();
  s = w->Commit(data.size() + 1, "", {});
  EXPECT_TRUE(s.Is(Code::kFailedPrecondition)) << s.ToString();
  EXPECT_NE(s.message().find("size"), std::string::npos);
  EXPECT_EQ(CountFiles("blobs/sha256"), 0u);
  // The ingest survives a failed commit and can still be committed.
  ASSERT_TRUE(w->Commit(data.size(), Sha256Of(data), {}).ok());
  EXPECT_EQ(CountFiles("blobs/sha256"), 1u);
}

TEST_F(LocalStoreTest, ExistingDigestIsAlreadyExists) {
  const std::string data = "same";
  auto w = MustWriter("a");
  ASSERT_TRUE(w->Write(data.data(), data.size()).ok());
  auto w2 = MustWriter("b");
  ASSERT_TRUE(w2->Write(data.data(), data.size()).ok());
  ASSERT_TRUE(w->Commit(0, "", {}).ok());
  EXPECT_TRUE(w2->Commit(0, "", {}).Is(Code::kAlreadyExists));
  EXPECT_TRUE(store_->GetStatus("b").status().Is(Code::kNotFound));
  EXPECT_TRUE(store_->Writer({"c", 0, Sha256Of(data)}).status().Is(
      Code::kAlreadyExists));
}

TEST_F(LocalStoreTest, TruncateRehashes) {
  auto w = MustWriter("trunc");
  ASSERT_TRUE(w->Write("abcdef", 6).ok());
  ASSERT_TRUE(w->Truncate(0).ok());
  EXPECT_EQ(w->Offset(), 0);
  ASSERT_TRUE(w->Write("xyz", 3).ok());
  ASSERT_TRUE(w->Truncate(2).ok());
  EXPECT_EQ(w->Digest(), Sha256Of("xy"));
  EXPECT_TRUE(w->Truncate(5).Is(Code::kInvalidArgument));
}

TEST_F(LocalStoreTest, AbortRemovesIngest) {
  auto w = MustWriter("gone");
  ASSERT_TRUE(w->Write("x", 1).ok());
  w.reset();
  ASSERT_TRUE(store_->Abort("gone").ok());
  EXPECT_TRUE(store_->GetStatus("gone").status().Is(Code::kNotFound));
  EXPECT_TRUE(store_->Abort("gone").Is(Code::kNotFound));
}

TEST_F(LocalStoreTest, ValidationRejectsBadInput) {
  EXPECT_TRUE(store_->Info("sha256:abc").status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(store_->Info("md5:" + std::string(32, 'a')).status().Is(
      Code::kInvalidArgument));
  EXPECT_TRUE(store_->ReaderAt("sha256:../../etc/passwd").status().Is(
      Code::kInvalidArgument));
  EXPECT_TRUE(store_->Delete("").Is(Code::kInvalidArgument));
  EXPECT_TRUE(store_->Writer({"", 0, ""}).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(store_->Writer({"r", 0, "sha256:nothex"}).status().Is(
      Code::kInvalidArgument));
  auto w = MustWriter("labels");
  Labels big{{"k", std::string(kMaxLabelSize, 'v')}};
  EXPECT_TRUE(w->Commit(0, "", big).Is(Code::kInvalidArgument));
  EXPECT_EQ(CountFiles("blobs/sha256"), 0u);
}

// A ref is a name: any ref is taken, and its ingest lives under a hash of it.
TEST_F(LocalStoreTest, RefsThatLookLikePathsStayInsideTheRoot) {
  for (const std::string ref : {"../../escape", "/abs/escape", "a/../../escape", ".."}) {
    auto w = store_->Writer({ref, 0, ""});
    ASSERT_TRUE(w.ok()) << ref << ": " << w.status().ToString();
    ASSERT_TRUE((*w)->Write("x", 1).ok());
    w->reset();
    auto st = store_->GetStatus(ref);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_EQ(st->ref, ref);
    EXPECT_TRUE(store_->Abort(ref).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(root_ + "/../escape"));
  EXPECT_FALSE(std::filesystem::exists("/abs/escape"));
  EXPECT_EQ(CountFiles("ingest"), 0u);
}

TEST_F(LocalStoreTest, StatusSurvivesReopenOfStore) {
  auto w = MustWriter("persist", 100);
  ASSERT_TRUE(w->Write(std::string(40, 'z').data(), 40).ok());
  w.reset();
  auto reopened = LocalStore::Open(root_);
  ASSERT_TRUE(reopened.ok());
  auto st = (*reopened)->GetStatus("persist");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->offset, 40);
  EXPECT_EQ(st->total, 100);
  EXPECT_LE(st->started_at, st->updated_at);
}

}  // namespace
}  // namespace berth::content_local
