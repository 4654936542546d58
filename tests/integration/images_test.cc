// The images service against a real berthd: images created over gRPC (ctr
// 1.6 has no "images create"; it pulls, which needs a registry) on content
// ingested with `ctr content ingest`, then driven by the stock ctr's
// `images` commands (ls with filters, tag, label, rm, rm --sync), containerd's
// errors, the /images/* events `ctr events` shows, records surviving a
// restart, and images keeping their content from garbage collection.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "berth/digest.h"
#include "berthd_process.h"
#include "containerd/services/images/v1/images.grpc.pb.h"
#include "daemon_test.h"
#include "run_command.h"

namespace berth::test {
namespace {

namespace ipb = containerd::services::images::v1;

constexpr char kManifestType[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kConfigType[] = "application/vnd.oci.image.config.v1+json";
constexpr char kLayerType[] = "application/vnd.oci.image.layer.v1.tar";

std::string DescriptorJson(const std::string& media_type, const std::string& data) {
  return "{\"mediaType\":\"" + media_type + "\",\"digest\":\"" + Sha256Of(data) +
         "\",\"size\":" + std::to_string(data.size()) + "}";
}

// A one-layer OCI image's blobs.
struct ImageBlobs {
  std::string layer = "not really a tar, but ctr only sums its size";
  std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}})";
  std::string manifest = "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kManifestType) +
                         "\",\"config\":" + DescriptorJson(kConfigType, config) + ",\"layers\":[" +
                         DescriptorJson(kLayerType, layer) + "]}";
};

class ImagesDaemonTest : public DaemonTest {
 protected:
  // Collections run only when a test asks.
  ImagesDaemonTest() : DaemonTest(BerthdOptions{"", kNoCollectionToml, {}, {}}) {}

  // `ctr content ingest <ref>` with `data` on stdin; returns its digest.
  std::string Ingest(const std::string& ref, const std::string& data) {
    Ctr({"content", "ingest", ref}, data);
    return Sha256Of(data);
  }
  // Ingests the blobs, the manifest labelled with its references as
  // containerd's clients label it; returns the manifest's digest.
  std::string IngestImage(const ImageBlobs& blobs) {
    const std::string layer = Ingest("layer", blobs.layer);
    const std::string config = Ingest("config", blobs.config);
    const std::string manifest = Ingest("manifest", blobs.manifest);
    Ctr({"content", "label", manifest, "containerd.io/gc.ref.content.config=" + config,
         "containerd.io/gc.ref.content.l.0=" + layer});
    return manifest;
  }

  std::unique_ptr<ipb::Images::Stub> Stub() { return ipb::Images::NewStub(ChannelTo(berthd_)); }
  grpc::Status CreateOverGrpc(const std::string& name, const std::string& digest, std::int64_t size,
                              const std::string& media_type = kManifestType) {
    ipb::CreateImageRequest req;
    req.mutable_image()->set_name(name);
    req.mutable_image()->mutable_target()->set_media_type(media_type);
    req.mutable_image()->mutable_target()->set_digest(digest);
    req.mutable_image()->mutable_target()->set_size(size);
    ipb::CreateImageResponse resp;
    return Stub()->Create(NamespaceContext().get(), req, &resp);
  }
  grpc::Status CreateImage(const std::string& name, const ImageBlobs& blobs) {
    return CreateOverGrpc(name, Sha256Of(blobs.manifest),
                          static_cast<std::int64_t>(blobs.manifest.size()));
  }
};

TEST_F(ImagesDaemonTest, CtrListsTagsLabelsAndRemoves) {
  ImageBlobs blobs;
  const std::string manifest = IngestImage(blobs);
  ASSERT_TRUE(CreateImage("example.com/app:1", blobs).ok());

  EXPECT_EQ(Ctr({"images", "ls", "-q"}), "example.com/app:1\n");
  const std::string ls = Ctr({"images", "ls"});
  EXPECT_TRUE(Contains(ls, "REF"));
  EXPECT_TRUE(Contains(ls, kManifestType));
  EXPECT_TRUE(Contains(ls, manifest));
  EXPECT_TRUE(Contains(ls, "linux/amd64")) << "ctr read the config through the content store";

  EXPECT_EQ(Ctr({"images", "tag", "example.com/app:1", "example.com/app:latest"}),
            "example.com/app:latest\n");
  EXPECT_EQ(Ctr({"images", "ls", "-q"}), "example.com/app:1\nexample.com/app:latest\n");
  EXPECT_TRUE(
      Contains(Fails(berthd_.Ctr({"images", "tag", "example.com/app:1", "example.com/app:latest"})),
               "already exists"));
  Ctr({"images", "tag", "--force", "example.com/app:1", "example.com/app:latest"});

  EXPECT_EQ(Ctr({"images", "label", "example.com/app:1", "team=blue"}), "team=blue\n");
  EXPECT_EQ(Ctr({"images", "ls", "-q", "labels.team==blue"}), "example.com/app:1\n");
  EXPECT_TRUE(Contains(Ctr({"images", "ls"}), "team=blue"));
  Ctr({"images", "label", "example.com/app:1", "team="});
  EXPECT_EQ(Ctr({"images", "ls", "-q", "labels.team"}), "") << "an empty value clears";
  EXPECT_EQ(Ctr({"images", "ls", "-q", "name==example.com/app:latest"}),
            "example.com/app:latest\n");
  EXPECT_EQ(Ctr({"images", "ls", "-q", "target.digest==" + manifest}),
            "example.com/app:1\nexample.com/app:latest\n");
  EXPECT_EQ(Ctr({"images", "ls", "-q", std::string("target.mediatype==") + kConfigType}), "");

  EXPECT_EQ(Ctr({"images", "rm", "example.com/app:latest"}), "example.com/app:latest\n");
  EXPECT_EQ(Ctr({"images", "rm", "example.com/nobody:1"}), "")
      << "ctr only warns about an image that is not there";
  EXPECT_EQ(Ctr({"images", "ls", "-q"}), "example.com/app:1\n");
}

TEST_F(ImagesDaemonTest, ImageHoldsItsContentUntilASyncRemove) {
  ImageBlobs blobs;
  const std::string manifest = IngestImage(blobs);
  const std::string orphan = Ingest("orphan", "nobody refers to this");
  ASSERT_TRUE(CreateImage("example.com/app:1", blobs).ok());

  Ok(berthd_.Berthctl({"gc"}));
  std::string content = Ctr({"content", "ls", "-q"});
  EXPECT_TRUE(Contains(content, manifest));
  EXPECT_TRUE(Contains(content, Sha256Of(blobs.config))) << "held through the manifest's label";
  EXPECT_TRUE(Contains(content, Sha256Of(blobs.layer)));
  EXPECT_FALSE(Contains(content, orphan));

  // A plain remove leaves the content to the next collection.
  Ctr({"images", "tag", "example.com/app:1", "example.com/app:2"});
  Ctr({"images", "rm", "example.com/app:2"});
  EXPECT_TRUE(Contains(Ctr({"content", "ls", "-q"}), manifest));
  EXPECT_EQ(Ctr({"images", "rm", "--sync", "example.com/app:1"}), "example.com/app:1\n");
  EXPECT_EQ(Ctr({"content", "ls", "-q"}), "") << "the sync remove collected before answering";
  EXPECT_EQ(Ctr({"images", "ls", "-q"}), "");
}

TEST_F(ImagesDaemonTest, ErrorsAreContainerds) {
  const std::string digest = Sha256Of("m");
  grpc::Status s = CreateOverGrpc("example.com/bad:1", "sha256:xyz", 1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(s.error_message(), "Target.Digest \"sha256:xyz\" invalid"));
  s = CreateOverGrpc("example.com/bad:1", digest, 0);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(s.error_message(), "Target.Size must be greater than zero"));
  s = CreateOverGrpc("example.com/bad:1", digest, 1, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(s.error_message(), "Target.MediaType must be set"));
  s = CreateOverGrpc("", digest, 1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(CreateOverGrpc("example.com/ok:1", digest, 1).ok());
  s = CreateOverGrpc("example.com/ok:1", digest, 1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(s.error_message(), "image \"example.com/ok:1\": already exists");

  EXPECT_TRUE(
      Contains(Fails(berthd_.Ctr({"images", "label", "example.com/no:1", "a=b"})), "not found"));
  EXPECT_TRUE(
      Contains(Fails(berthd_.Ctr({"images", "tag", "example.com/no:1", "x:1"})), "not found"));
  EXPECT_TRUE(Contains(Fails(berthd_.Ctr({"images", "ls", "labels.a=="})), "invalid argument"));
  EXPECT_EQ(Ctr({"--namespace", "other", "images", "ls", "-q"}), "") << "images are per namespace";
  EXPECT_TRUE(Contains(Fails(berthd_.Ctr({"namespaces", "rm", "default"})), "images"))
      << "a namespace holding an image cannot go";
  EXPECT_EQ(Ctr({"images", "ls", "-q"}), "example.com/ok:1\n") << "nothing else was stored";
}

TEST_F(ImagesDaemonTest, CtrEventsShowsImageTopics) {
  CtrEvents events(berthd_);
  ASSERT_TRUE(events.started());
  ASSERT_TRUE(events.WaitSubscribed());

  ASSERT_TRUE(CreateOverGrpc("example.com/evt:1", Sha256Of("m"), 1).ok());
  Ctr({"images", "label", "example.com/evt:1", "team=blue"});
  Ctr({"images", "rm", "example.com/evt:1"});
  // ctr prints "<timestamp> <namespace> <topic> <payload as JSON>".
  EXPECT_TRUE(events.Shows("default /images/create {\"name\":\"example.com/evt:1\"}"));
  EXPECT_TRUE(events.Shows(
      "default /images/update {\"name\":\"example.com/evt:1\",\"labels\":{\"team\":\"blue\"}}"));
  EXPECT_TRUE(events.Shows("default /images/delete {\"name\":\"example.com/evt:1\"}"));
}

TEST_F(ImagesDaemonTest, ImagesSurviveARestart) {
  ASSERT_TRUE(CreateOverGrpc("example.com/keep:1", Sha256Of("m"), 1).ok());
  Ctr({"images", "label", "example.com/keep:1", "a=b"});
  ASSERT_EQ(berthd_.Stop(), 0) << berthd_.Log();
  ASSERT_TRUE(berthd_.Start());
  ASSERT_TRUE(berthd_.WaitServing());
  EXPECT_EQ(Ctr({"images", "ls", "-q", "labels.a==b"}), "example.com/keep:1\n");
  ipb::GetImageRequest req;
  req.set_name("example.com/keep:1");
  ipb::GetImageResponse resp;
  ASSERT_TRUE(Stub()->Get(NamespaceContext().get(), req, &resp).ok());
  EXPECT_GT(resp.image().created_at().seconds(), 0);
  EXPECT_GE(resp.image().updated_at().seconds(), resp.image().created_at().seconds());
  EXPECT_EQ(resp.image().target().digest(), Sha256Of("m"));
}

}  // namespace
}  // namespace berth::test
