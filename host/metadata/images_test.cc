// ImageRecords: containerd's image rules (metadata/images.go) over the
// metadata store, the record's stored form, images as roots of garbage
// collection, and the images service in process (sync delete collects).
#include "metadata/images.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "containerd/services/images/v1/images.grpc.pb.h"
#include "metadata/record_table_test.h"
#include "metadata/test_env.h"
#include "services/images_service.h"

namespace berth::host::metadata {
namespace {

namespace ipb = containerd::services::images::v1;

constexpr char kManifestType[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kIndexType[] = "application/vnd.oci.image.index.v1+json";

Image Sample(const std::string& name, const std::string& digest = Sha256Of("manifest")) {
  Image image;
  image.name = name;
  image.target.media_type = kManifestType;
  image.target.digest = digest;
  image.target.size = 8;
  return image;
}

class ImagesTest : public testing::RecordTableTest<&MetadataPlugin::images, &Image::name> {
 protected:
  bool HasContent(const std::string& ns, const std::string& digest) {
    return env_.content().Info(ns, digest).ok();
  }
};

TEST_F(ImagesTest, CreateGetListDelete) {
  Image a = Sample("docker.io/library/busybox:latest");
  a.labels = {{"team", "blue"}, {"empty", ""}};
  a.target.annotations = {{"org.opencontainers.image.ref.name", "latest"}, {"none", ""}};
  const auto before = std::chrono::system_clock::now();
  auto created = records().Create("ns", a);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_GE(created->created_at, before);
  EXPECT_EQ(created->created_at, created->updated_at);
  EXPECT_EQ(created->labels, (Labels{{"team", "blue"}})) << "empty label values are not stored";
  EXPECT_EQ(created->target.annotations, (Labels{{"org.opencontainers.image.ref.name", "latest"}}));

  auto got = records().Get("ns", a.name);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->name, a.name);
  EXPECT_EQ(got->labels, created->labels);
  EXPECT_EQ(got->target, created->target);
  EXPECT_EQ(got->created_at, created->created_at) << "nanoseconds survive the record";
  EXPECT_EQ(got->updated_at, created->updated_at);

  Status dup = records().Create("ns", Sample(a.name)).status();
  EXPECT_TRUE(dup.Is(Code::kAlreadyExists)) << dup.ToString();
  EXPECT_EQ(dup.ToString(), "image \"docker.io/library/busybox:latest\": already exists");
  ASSERT_TRUE(records().Create("ns", Sample("docker.io/library/alpine:3")).ok());
  ASSERT_TRUE(records().Create("ns", Sample("docker.io/library/busybox")).ok())
      << "a name that is a prefix of another is its own image";
  ASSERT_TRUE(records().Create("other", Sample(a.name)).ok()) << "names are per namespace";

  EXPECT_EQ(Listed("ns", {}),
            (std::vector<std::string>{"docker.io/library/alpine:3", "docker.io/library/busybox",
                                      "docker.io/library/busybox:latest"}));
  EXPECT_EQ(Listed("other", {}), std::vector<std::string>{a.name});
  EXPECT_EQ(Listed("nobody", {}), std::vector<std::string>{});

  Status missing = records().Get("ns", "docker.io/library/nginx:latest").status();
  EXPECT_TRUE(missing.Is(Code::kNotFound)) << missing.ToString();
  EXPECT_EQ(missing.ToString(), "image \"docker.io/library/nginx:latest\": not found");
  EXPECT_TRUE(records().Get("ns", "").status().Is(Code::kNotFound));

  ASSERT_TRUE(records().Delete("ns", a.name).ok());
  EXPECT_TRUE(records().Get("ns", a.name).status().Is(Code::kNotFound));
  EXPECT_TRUE(records().Delete("ns", a.name).Is(Code::kNotFound));
  EXPECT_TRUE(records().Delete("ns", "").Is(Code::kNotFound));
  EXPECT_TRUE(records().Get("ns", "docker.io/library/busybox").ok());
  EXPECT_TRUE(records().Get("other", a.name).ok()) << "the other namespace's image stays";
}

TEST_F(ImagesTest, ListFiltersAsContainerd) {
  Image web = Sample("example.com/web:1", Sha256Of("web"));
  web.labels = {{"tier", "front"}, {"a.b", "dotted"}};
  web.target.annotations = {{"note", "x"}};
  Image db = Sample("example.com/db:1", Sha256Of("db"));
  db.target.media_type = kIndexType;
  db.labels = {{"tier", "back"}};
  ASSERT_TRUE(records().Create("ns", web).ok());
  ASSERT_TRUE(records().Create("ns", db).ok());
  ASSERT_TRUE(records().Create("ns", Sample("example.com/bare:1", Sha256Of("bare"))).ok());

  EXPECT_EQ(Listed("ns", {"name==example.com/web:1"}), std::vector<std::string>{web.name});
  EXPECT_EQ(Listed("ns", {"name~=db"}), std::vector<std::string>{db.name});
  EXPECT_EQ(Listed("ns", {"target.digest==" + Sha256Of("bare")}),
            std::vector<std::string>{"example.com/bare:1"});
  EXPECT_EQ(Listed("ns", {std::string("target.mediatype==") + kIndexType}),
            std::vector<std::string>{db.name});
  EXPECT_EQ(Listed("ns", {"labels.tier==back"}), std::vector<std::string>{db.name});
  EXPECT_EQ(Listed("ns", {"labels.tier"}), (std::vector<std::string>{db.name, web.name}));
  EXPECT_EQ(Listed("ns", {"labels.a.b==dotted"}), std::vector<std::string>{web.name});
  EXPECT_EQ(Listed("ns", {"annotations.note==x"}), std::vector<std::string>{web.name});
  EXPECT_EQ(Listed("ns", {"labels.tier==back", "name==example.com/bare:1"}),
            (std::vector<std::string>{"example.com/bare:1", db.name}))
      << "filters are ORed";
  EXPECT_EQ(Listed("ns", {"labels.tier==front,name==example.com/db:1"}), std::vector<std::string>{})
      << "a filter's parts are ANDed";
  EXPECT_EQ(Listed("ns", {"target.size==8"}), std::vector<std::string>{})
      << "containerd's adaptor has no size field";
}

TEST_F(ImagesTest, CreateValidatesAsContainerd) {
  auto message = [&](const Image& image) {
    Status s = records().Create("ns", image).status();
    EXPECT_TRUE(s.Is(Code::kInvalidArgument)) << image.name << ": " << s.ToString();
    return s.message();
  };
  EXPECT_EQ(message(Sample("")), "image name must not be empty");
  Image bad_label = Sample("i");
  bad_label.labels = {{"k", std::string(5000, 'v')}};
  EXPECT_EQ(message(bad_label).rfind("image.Labels: ", 0), 0u) << message(bad_label);
  Image bad_digest = Sample("i", "sha256:xyz");
  EXPECT_EQ(message(bad_digest),
            "Target.Digest \"sha256:xyz\" invalid: invalid checksum digest length");
  EXPECT_EQ(message(Sample("i", "")).rfind("Target.Digest \"\" invalid: ", 0), 0u);
  Image no_size = Sample("i");
  no_size.target.size = 0;
  EXPECT_EQ(message(no_size), "Target.Size must be greater than zero");
  no_size.target.size = -1;
  EXPECT_EQ(message(no_size), "Target.Size must be greater than zero");
  Image no_type = Sample("i");
  no_type.target.media_type.clear();
  EXPECT_EQ(message(no_type), "Target.MediaType must be set");
  Image digest_first = no_type;
  digest_first.target.digest = "md5:0";
  EXPECT_EQ(message(digest_first).rfind("Target.Digest", 0), 0u) << "the digest is checked first";

  EXPECT_EQ(Listed("ns", {}), std::vector<std::string>{}) << "nothing invalid was stored";
}

TEST_F(ImagesTest, UpdateAppliesFieldMasks) {
  Image image = Sample("i");
  image.labels = {{"keep", "1"}, {"drop", "2"}};
  image.target.annotations = {{"a1", "x"}, {"a2", "y"}};
  auto created = records().Create("ns", image);
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  Image change = Sample("i", Sha256Of("other manifest"));
  change.target.size = 99;
  change.labels = {{"new", "3"}};
  change.target.annotations = {{"a1", "changed"}};
  auto updated = records().Update("ns", change, {"labels.new", "labels.drop", "annotations.a1"});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->labels, (Labels{{"keep", "1"}, {"new", "3"}}));
  EXPECT_EQ(updated->target.annotations, (Labels{{"a1", "changed"}, {"a2", "y"}}));
  EXPECT_EQ(updated->target.digest, image.target.digest) << "not in the mask";
  EXPECT_EQ(updated->created_at, created->created_at);
  EXPECT_GE(updated->updated_at, created->updated_at);

  updated = records().Update("ns", change, {"target"});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->target, change.target) << "the target is replaced as a unit";
  change.target.annotations = {{"only", "1"}};
  updated = records().Update("ns", change, {"annotations", "labels"});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->target.annotations, (Labels{{"only", "1"}}));
  EXPECT_EQ(updated->labels, (Labels{{"new", "3"}}));

  auto stored = records().Get("ns", "i");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->labels, updated->labels) << "the update was written";
  EXPECT_EQ(stored->target, updated->target);
  EXPECT_EQ(stored->updated_at, updated->updated_at);

  for (const std::string path : {"name", "created_at", "target.digest", "bogus"}) {
    Status s = records().Update("ns", change, {path}).status();
    EXPECT_TRUE(s.Is(Code::kInvalidArgument)) << path << ": " << s.ToString();
    EXPECT_EQ(s.message(), "cannot update \"" + path + "\" field on image \"i\"");
  }
  Image no_type = change;
  no_type.target.media_type.clear();
  Status s = records().Update("ns", no_type, {"target"}).status();
  EXPECT_TRUE(s.Is(Code::kInvalidArgument)) << s.ToString();
  EXPECT_EQ(records().Get("ns", "i")->target, change.target) << "a failed update writes nothing";

  ExpectUpdateNeedsAStoredKey(change, {"labels"});
}

TEST_F(ImagesTest, UpdateWithoutMaskReplacesAllButCreatedAt) {
  Image image = Sample("i");
  image.labels = {{"a", "1"}};
  auto created = records().Create("ns", image);
  ASSERT_TRUE(created.ok());
  Image replace = Sample("i", Sha256Of("v2"));
  replace.labels = {{"b", "2"}};
  replace.created_at = Timestamp{};
  auto updated = records().Update("ns", replace, {});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->labels, (Labels{{"b", "2"}}));
  EXPECT_EQ(updated->target.digest, Sha256Of("v2"));
  EXPECT_EQ(updated->created_at, created->created_at);
}

TEST_F(ImagesTest, ChangesAreCountedAndHoldTheNamespace) {
  CountMutations();
  Image image = Sample("i");
  image.labels = {{"containerd.io/gc.ref.content.extra", Sha256Of("x")}, {"plain", "1"}};
  ASSERT_TRUE(records().Create("ns", image).ok());
  EXPECT_EQ(mutations_, 1);
  EXPECT_EQ(deletions_, 0);
  image.labels["plain"] = "2";
  ASSERT_TRUE(records().Update("ns", image, {"labels.plain"}).ok());
  EXPECT_EQ(deletions_, 0) << "a plain label change drops no reference";
  image.labels.clear();
  ASSERT_TRUE(records().Update("ns", image, {"labels"}).ok());
  EXPECT_EQ(deletions_, 1) << "dropping a gc label may free something";
  image.target.digest = Sha256Of("another");
  ASSERT_TRUE(records().Update("ns", image, {"target"}).ok());
  EXPECT_EQ(deletions_, 2) << "another target may free the old one";
  EXPECT_EQ(mutations_, 4);

  ExpectHoldsTheNamespace("i", kImagesKind);
}

TEST_F(ImagesTest, ImagesKeepTheirTargetAndWhatItRefersTo) {
  // A manifest that, as containerd's clients label it, refers to its config
  // and layer; the image refers to the manifest and, by label, one more blob.
  const std::string layer = env_.Put("ns", "layer bytes");
  const std::string config = env_.Put("ns", R"({"architecture":"amd64","os":"linux"})");
  const std::string manifest = env_.Put("ns", "manifest bytes",
                                        {{"containerd.io/gc.ref.content.config", config},
                                         {"containerd.io/gc.ref.content.l.0", layer}});
  const std::string extra = env_.Put("ns", "held by the image's label");
  const std::string orphan = env_.Put("ns", "nobody's");
  Image image = Sample("example.com/app:1", manifest);
  image.labels = {{"containerd.io/gc.ref.content.extra", extra}};
  ASSERT_TRUE(records().Create("ns", image).ok());
  // The same target in another namespace is not held by this image.
  const std::string foreign = env_.Put("other", "manifest bytes");
  ASSERT_EQ(foreign, manifest);

  gc::Stats stats = env_.Collect();
  EXPECT_EQ(stats.content_removed, 1) << "the orphan (other's manifest shares the blob)";
  for (const std::string& d : {layer, config, manifest, extra}) {
    EXPECT_TRUE(HasContent("ns", d)) << d;
    EXPECT_TRUE(env_.BlobOnDisk(d)) << d;
  }
  EXPECT_FALSE(HasContent("ns", orphan));
  EXPECT_FALSE(env_.BlobOnDisk(orphan));
  EXPECT_FALSE(HasContent("other", manifest));
  EXPECT_TRUE(records().Get("ns", image.name).ok()) << "images are never collected";

  // Dropping the label lets its target go; the rest stays with the image.
  image.labels.clear();
  ASSERT_TRUE(records().Update("ns", image, {"labels"}).ok());
  env_.Collect();
  EXPECT_FALSE(HasContent("ns", extra));
  EXPECT_TRUE(HasContent("ns", manifest));

  ASSERT_TRUE(records().Delete("ns", image.name).ok());
  stats = env_.Collect();
  EXPECT_EQ(stats.content_removed, 3) << "manifest, config and layer";
  for (const std::string& d : {layer, config, manifest}) {
    EXPECT_FALSE(HasContent("ns", d)) << d;
    EXPECT_FALSE(env_.BlobOnDisk(d)) << d;
  }
  EXPECT_EQ(env_.BlobsOnDisk(), 0u);
}

TEST_F(ImagesTest, MetadataPluginIsTheImageStoreFace) {
  ImageStore* store = dynamic_cast<ImageStore*>(&env_.md());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateImage("ns", Sample("i")).ok());
  EXPECT_TRUE(store->GetImage("ns", "i").ok());
  auto list = store->ListImages("ns", filters::Filter());
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
  Image image = Sample("i");
  image.labels = {{"x", "y"}};
  auto updated = store->UpdateImage("ns", image, {"labels.x"});
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->labels, (Labels{{"x", "y"}}));
  EXPECT_TRUE(store->DeleteImage("ns", "i").ok());
  EXPECT_TRUE(store->GetImage("ns", "i").status().Is(Code::kNotFound));
}

TEST(ImageProtoTest, RecordRoundTrips) {
  Image image = Sample("i");
  image.labels = {{"a", "b"}};
  image.target.annotations = {{"c", "d"}};
  image.created_at = std::chrono::system_clock::now();
  image.updated_at = image.created_at;
  ipb::Image pb;
  ToProto(image, &pb);
  EXPECT_EQ(pb.target().media_type(), kManifestType);
  EXPECT_EQ(pb.target().size(), 8);
  Image back = FromProto(pb);
  EXPECT_EQ(back.name, image.name);
  EXPECT_EQ(back.labels, image.labels);
  EXPECT_EQ(back.target, image.target);
  EXPECT_EQ(back.created_at, image.created_at);

  ipb::Image none;
  none.set_name("x");
  EXPECT_TRUE(ValidateImage(FromProto(none)).Is(Code::kInvalidArgument));
}

// The images service in process, over the same metadata plugin.
class ImagesServiceTest : public ::testing::Test {
 protected:
  ImagesServiceTest() : env_({ImagesServiceRegistration(HostEnv{})}) {}
  void SetUp() override {
    ASSERT_TRUE(env_.ok()) << env_.failure();
    grpc::Service* service = env_.service("io.containerd.grpc.v1.images");
    ASSERT_NE(service, nullptr);
    const std::string address = "unix://" + env_.dir().path() + "/grpc.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials());
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = ipb::Images::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }
  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& ns = "ns") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!ns.empty()) ctx->AddMetadata("containerd-namespace", ns);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return ctx;
  }

  testing::MetadataTestEnv env_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ipb::Images::Stub> stub_;
};

TEST_F(ImagesServiceTest, CallsMapToContainerdErrorsAndSyncDeleteCollects) {
  const std::string manifest = env_.Put("ns", "served manifest");
  ipb::CreateImageRequest create;
  ToProto(Sample("example.com/app:1", manifest), create.mutable_image());
  ipb::CreateImageResponse created;
  grpc::Status s = stub_->Create(Ctx().get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(created.image().created_at().seconds(), 0);
  s = stub_->Create(Ctx().get(), create, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  s = stub_->Create(Ctx("").get(), create, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << "a namespace is required";
  ipb::CreateImageRequest unnamed;
  s = stub_->Create(Ctx().get(), unnamed, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("Image.Name required", 0), 0u) << s.error_message();

  ipb::UpdateImageRequest update;
  update.mutable_image()->set_name("example.com/app:1");
  (*update.mutable_image()->mutable_labels())["team"] = "blue";
  update.mutable_update_mask()->add_paths("labels.team");
  ipb::UpdateImageResponse updated;
  ASSERT_TRUE(stub_->Update(Ctx().get(), update, &updated).ok());
  EXPECT_EQ(updated.image().labels().at("team"), "blue");
  EXPECT_EQ(updated.image().target().digest(), manifest);

  ipb::ListImagesRequest list;
  list.add_filters("labels.team==blue");
  ipb::ListImagesResponse listed;
  ASSERT_TRUE(stub_->List(Ctx().get(), list, &listed).ok());
  ASSERT_EQ(listed.images_size(), 1);
  list.set_filters(0, "labels.team==");
  EXPECT_EQ(stub_->List(Ctx().get(), list, &listed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  ipb::GetImageRequest get;
  get.set_name("example.com/missing:1");
  ipb::GetImageResponse got;
  EXPECT_EQ(stub_->Get(Ctx().get(), get, &got).error_code(), grpc::StatusCode::NOT_FOUND);

  env_.Collect();
  EXPECT_TRUE(env_.BlobOnDisk(manifest)) << "the image holds its target";
  ipb::DeleteImageRequest del;
  del.set_name("example.com/app:1");
  del.set_sync(true);
  google::protobuf::Empty empty;
  s = stub_->Delete(Ctx().get(), del, &empty);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(env_.BlobOnDisk(manifest)) << "a sync delete collected before answering";
  EXPECT_EQ(stub_->Delete(Ctx().get(), del, &empty).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace berth::host::metadata
