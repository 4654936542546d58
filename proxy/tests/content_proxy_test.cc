// A content proxy plugin end to end: berthd A with [proxy_plugins.blobs]
// pointing at a second berthd B, driven by the stock ctr through A; and the
// metadata plugin's choice of content store when both A's local store and
// the proxy are loaded (`content_store`).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "berth/digest.h"
#include "berthd_process.h"
#include "fixtures.h"
#include "proxy_test_util.h"

namespace berth::test {
namespace {

constexpr char kMetadataTable[] = "[plugins.\"io.containerd.metadata.v1.leveldb\"]\n";

std::string LocalBlob(const BerthdProcess& d, const std::string& digest) {
  return d.root() + "/io.containerd.content.v1.content/blobs/sha256/" +
         std::string(DigestHex(digest));
}

class ContentProxyTest : public ::testing::Test {
 protected:
  // Starts the peer B, then A with the proxy; `content_store` ("" = unset)
  // goes to A's metadata plugin.
  void StartBoth(const std::string& content_store) {
    ASSERT_TRUE(peer_.Start());
    ASSERT_TRUE(peer_.WaitServing());
    BerthdOptions options;
    options.extra_toml = kNoScheduledGc + ProxyPluginToml("blobs", "content", peer_.socket());
    if (!content_store.empty()) {
      options.extra_toml +=
          std::string(kMetadataTable) + "  content_store = \"" + content_store + "\"\n";
    }
    main_ = std::make_unique<BerthdProcess>(options);
    ASSERT_TRUE(main_->Start());
    ASSERT_TRUE(main_->WaitServing());
  }
  CommandResult Ingest(const BerthdProcess& d, const std::string& ns, const std::string& ref,
                       const std::string& data) {
    return RunCommand({kCtr, "--address", d.socket(), "-n", ns, "content", "ingest", ref}, data);
  }

  BerthdProcess peer_{BerthdOptions{"", kNoScheduledGc, {}, {}}};
  std::unique_ptr<BerthdProcess> main_;
};

TEST_F(ContentProxyTest, IngestGetListLabelThroughTheProxy) {
  ASSERT_NO_FATAL_FAILURE(StartBoth("blobs"));
  const std::string data = DeterministicBytes(3 << 20, 7);
  const std::string digest = Sha256Of(data);
  CommandResult in = Ingest(*main_, "default", "blob-1", data);
  ASSERT_EQ(in.exit_code, 0) << in.Describe() << main_->Log();

  CommandResult ls = main_->Ctr({"content", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_TRUE(Contains(ls.out, digest));
  CommandResult get = main_->Ctr({"content", "get", digest});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_TRUE(get.out == data) << "read back " << get.out.size() << " bytes";
  CommandResult label = main_->Ctr({"content", "label", digest, "origin=proxy-test"});
  ASSERT_EQ(label.exit_code, 0) << label.Describe();
  EXPECT_TRUE(Contains(main_->Ctr({"content", "ls"}).out, "origin=proxy-test"));

  // The bytes live on the peer, under the caller's namespace, not in A.
  CommandResult peer_get = peer_.Ctr({"content", "get", digest});
  ASSERT_EQ(peer_get.exit_code, 0) << peer_get.Describe();
  EXPECT_TRUE(peer_get.out == data);
  EXPECT_TRUE(Contains(ReadFile(LocalBlob(peer_, digest)).substr(0, 16), data.substr(0, 16)));
  EXPECT_TRUE(ReadFile(LocalBlob(*main_, digest)).empty());
}

TEST_F(ContentProxyTest, NamespacesTravelToThePeer) {
  ASSERT_NO_FATAL_FAILURE(StartBoth("blobs"));
  const std::string data = DeterministicBytes(100000, 8);
  const std::string digest = Sha256Of(data);
  ASSERT_EQ(Ingest(*main_, "ns1", "r", data).exit_code, 0);
  EXPECT_TRUE(Contains(peer_.Ctr({"-n", "ns1", "content", "ls"}).out, digest));
  EXPECT_EQ(peer_.Ctr({"-n", "ns2", "content", "ls"}).out.find(digest), std::string::npos);
  CommandResult other = main_->Ctr({"-n", "ns2", "content", "get", digest});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_TRUE(Contains(other.err, "not found"));
}

TEST_F(ContentProxyTest, LocalStoreIsTheDefaultBesideAProxy) {
  ASSERT_NO_FATAL_FAILURE(StartBoth(""));
  const std::string data = DeterministicBytes(200000, 9);
  const std::string digest = Sha256Of(data);
  ASSERT_EQ(Ingest(*main_, "default", "r", data).exit_code, 0);
  EXPECT_TRUE(ReadFile(LocalBlob(*main_, digest)) == data);
  EXPECT_EQ(peer_.Ctr({"content", "ls"}).out.find(digest), std::string::npos);
  EXPECT_TRUE(Contains(main_->Log(), "using \\\"content\\\""));
}

TEST_F(ContentProxyTest, UnknownContentStoreFailsTheMetadataPlugin) {
  ASSERT_NO_FATAL_FAILURE(StartBoth("nope"));
  CommandResult ls = main_->Ctr({"plugins", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_EQ(ParsePluginTable(ls.out)["io.containerd.metadata.v1.leveldb"], "error") << ls.out;
  CommandResult detailed =
      main_->Berthctl({"plugins", "ls", "--detailed", "type==io.containerd.metadata.v1"});
  EXPECT_TRUE(Contains(detailed.out, "content_store \"nope\""));
}

}  // namespace
}  // namespace berth::test
