// containerd.services.diff.v1.Diff served in-process over a unix socket, on
// the real metadata, content-local and walking differ plugins (plus a
// refusing fake differ), called through the generated client stub as ctr
// and containerd's Go client would. Needs root (the differ sets owners).
#include "services/diff_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "berth/descriptor.h"
#include "berth/diff.h"
#include "berth/grpc/convert.h"
#include "berth/plugin_types.h"
#include "containerd/services/diff/v1/diff.grpc.pb.h"
#include "fake_differ.h"
#include "metadata/test_env.h"

namespace berth::host {
namespace {

namespace fs = std::filesystem;
namespace pb = containerd::services::diff::v1;
using metadata::testing::MetadataTestEnv;
using metadata::testing::PluginPath;

constexpr char kGrpcUri[] = "io.containerd.grpc.v1.diff";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data, mode_t mode = 0644) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

// Sets the diff-service's `default` (its differ order) through the config's
// own description, as the host's decoder would.
class OrderSetter final : public ConfigFields {
 public:
  explicit OrderSetter(std::vector<std::string> order) : order_(std::move(order)) {}
  void Field(std::string_view key, std::vector<std::string>& value) override {
    if (key == "default") value = order_;
  }
  void Field(std::string_view, bool&) override {}
  void Field(std::string_view, std::int64_t&) override {}
  void Field(std::string_view, double&) override {}
  void Field(std::string_view, std::string&) override {}
  void Field(std::string_view, Duration&) override {}
  void Field(std::string_view, std::map<std::string, std::string>&) override {}

 private:
  std::vector<std::string> order_;
};

// A layer made by tar(1) from a tree: the plain tar and its gzip.
struct Layer {
  std::string tar;
  std::string gzip;
};

class DiffServiceTest : public ::testing::Test {
 protected:
  // Starts the plugins and a server; `order` empty = the default config.
  void Start(std::vector<std::string> order = {}) {
    std::vector<SourcedRegistration> walking;
    ASSERT_TRUE(fs::exists(PluginPath("diff-walking")))
        << "build the diff-walking target first: " << PluginPath("diff-walking");
    Status loaded = loader_.LoadFile(PluginPath("diff-walking"), walking);
    ASSERT_TRUE(loaded.ok()) << loaded.ToString();
    std::vector<Registration> regs;
    for (SourcedRegistration& r : walking) regs.push_back(std::move(r.registration));
    regs.push_back(RefusingRegistration());
    regs.push_back(DiffServiceRegistration(HostEnv{}));
    if (!order.empty()) {
      auto base = regs.back().config;
      regs.back().config = [base, order] {
        auto c = base();
        OrderSetter set(order);
        c->Describe(set);
        return c;
      };
    }
    regs.push_back(DiffGrpcServiceRegistration(HostEnv{}));
    env_ = std::make_unique<MetadataTestEnv>(std::move(regs));
    ASSERT_TRUE(env_->ok()) << env_->failure();
    if (env_->service(kGrpcUri) == nullptr) return;
    address_ = "unix://" + env_->dir().path() + "/grpc.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address_, grpc::InsecureServerCredentials());
    builder.RegisterService(env_->service(kGrpcUri));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = pb::Diff::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }
  // Start, which must bring the gRPC service up.
  void Serve(std::vector<std::string> order = {}) {
    ASSERT_NO_FATAL_FAILURE(Start(std::move(order)));
    ASSERT_NE(stub_, nullptr);
  }

  Registration RefusingRegistration() {
    Registration r;
    r.type = std::string(types::kDiffer);
    r.id = "refusing";
    r.init = [differ = refusing_](InitContext&) -> Result<std::shared_ptr<Plugin>> {
      return std::shared_ptr<Plugin>(differ);
    };
    return r;
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& ns = "default",
                                           const std::string& lease = "") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!ns.empty()) ctx->AddMetadata("containerd-namespace", ns);
    if (!lease.empty()) ctx->AddMetadata("containerd-lease", lease);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return ctx;
  }
  std::string Path(const std::string& rel) const { return env_->dir().path() + "/" + rel; }

  // tar(1) of `dir`'s contents, numeric owners, pax format.
  Layer TarOf(const std::string& dir) {
    const std::string tar = Path("layer.tar");
    const std::string cmd = "tar --numeric-owner --format=posix -C '" + dir + "' -cf '" + tar +
                            "' . && gzip -kfn '" + tar + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return {ReadAll(tar), ReadAll(tar + ".gz")};
  }
  // A gzip layer of a small tree, put into `ns`'s content; its descriptor.
  Descriptor PutLayer(Layer* layer, const std::string& ns = "default") {
    const std::string src = Path("src");
    WriteFile(src + "/etc/hello", "world\n", 0640);
    fs::create_directories(src + "/empty");
    fs::create_symlink("etc/hello", src + "/link");
    *layer = TarOf(src);
    Descriptor d;
    d.media_type = std::string(media_types::kOciLayerGzip);
    d.digest = env_->Put(ns, layer->gzip);
    d.size = static_cast<std::int64_t>(layer->gzip.size());
    return d;
  }
  // PutLayer into `layer_ns`, applied onto Path("target") in `ns`.
  grpc::Status ApplyLayer(Layer* layer, pb::ApplyResponse* resp, const std::string& ns = "default",
                          const std::string& layer_ns = "default") {
    return Apply(PutLayer(layer, layer_ns), Path("target"), resp, ns);
  }
  static void BindMount(const std::string& dir, containerd::types::Mount* m) {
    m->set_type("bind");
    m->set_source(dir);
    m->add_options("rbind");
    m->add_options("rw");
  }
  grpc::Status Apply(const Descriptor& desc, const std::string& target, pb::ApplyResponse* resp,
                     const std::string& ns = "default") {
    pb::ApplyRequest req;
    grpc_util::ToProto(desc, req.mutable_diff());
    fs::create_directories(target);
    BindMount(target, req.add_mounts());
    return stub_->Apply(Ctx(ns).get(), req, resp);
  }
  grpc::Status Diff(const std::string& lower, const std::string& upper, pb::DiffResponse* resp,
                    const std::string& ns = "default", const std::string& lease = "") {
    pb::DiffRequest req;
    BindMount(lower, req.add_left());
    BindMount(upper, req.add_right());
    (*req.mutable_labels())["test"] = "diff";
    return stub_->Diff(Ctx(ns, lease).get(), req, resp);
  }

  std::shared_ptr<fakes::FakeDiffer> refusing_ = std::make_shared<fakes::FakeDiffer>();
  runner::PluginLoader loader_;  // outlives env_: the walking differ's library
  std::unique_ptr<MetadataTestEnv> env_;
  std::string address_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::Diff::Stub> stub_;
};

TEST_F(DiffServiceTest, AppliesGzipLayerOntoBindMount) {
  ASSERT_NO_FATAL_FAILURE(Serve());
  Layer layer;
  pb::ApplyResponse resp;
  grpc::Status s = ApplyLayer(&layer, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();

  EXPECT_EQ(resp.applied().media_type(), media_types::kOciLayer);
  EXPECT_EQ(resp.applied().digest(), Sha256Of(layer.tar));
  EXPECT_EQ(resp.applied().size(), static_cast<std::int64_t>(layer.tar.size()));
  EXPECT_EQ(ReadAll(Path("target/etc/hello")), "world\n");
  EXPECT_EQ(fs::status(Path("target/etc/hello")).permissions(),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_EQ(fs::read_symlink(Path("target/link")), "etc/hello");
  EXPECT_TRUE(fs::is_directory(Path("target/empty")));
  EXPECT_EQ(refusing_->applies, 0);  // not in the default order
}

TEST_F(DiffServiceTest, NotImplementedFallsThroughToTheNextDiffer) {
  ASSERT_NO_FATAL_FAILURE(Serve({"refusing", "walking"}));
  Layer layer;
  pb::ApplyResponse resp;
  grpc::Status s = ApplyLayer(&layer, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(refusing_->applies, 1);
  EXPECT_EQ(resp.applied().digest(), Sha256Of(layer.tar));
  EXPECT_EQ(ReadAll(Path("target/etc/hello")), "world\n");
}

TEST_F(DiffServiceTest, AnotherErrorStopsTheFallThrough) {
  refusing_->on_apply = [](const Descriptor&, const std::vector<Mount>&) -> Result<Descriptor> {
    return Status::InvalidArgument("bad mounts");
  };
  ASSERT_NO_FATAL_FAILURE(Serve({"refusing", "walking"}));
  Layer layer;
  pb::ApplyResponse resp;
  grpc::Status s = ApplyLayer(&layer, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_FALSE(fs::exists(Path("target/etc")));
}

TEST_F(DiffServiceTest, UnknownMediaTypeIsUnimplemented) {
  ASSERT_NO_FATAL_FAILURE(Serve({"refusing", "walking"}));
  Layer layer;
  Descriptor desc = PutLayer(&layer);
  desc.media_type = "application/vnd.example.nope";
  pb::ApplyResponse resp;
  grpc::Status s = Apply(desc, Path("target"), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED) << s.error_message();
  // The answer is the last differ's refusal.
  EXPECT_NE(s.error_message().find("application/vnd.example.nope"), std::string::npos)
      << s.error_message();
  EXPECT_EQ(refusing_->applies, 1);

  pb::DiffResponse dresp;
  pb::DiffRequest req;
  req.set_media_type("application/vnd.example.nope");
  BindMount(Path("target"), req.add_right());
  s = stub_->Diff(Ctx().get(), req, &dresp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED) << s.error_message();
  EXPECT_EQ(refusing_->compares, 1);
}

TEST_F(DiffServiceTest, MissingNamespaceIsFailedPrecondition) {
  ASSERT_NO_FATAL_FAILURE(Serve());
  Layer layer;
  pb::ApplyResponse resp;
  grpc::Status s = ApplyLayer(&layer, &resp, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_FALSE(fs::exists(Path("target/etc")));
  pb::DiffResponse dresp;
  s = Diff(Path("src"), Path("target"), &dresp, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
}

TEST_F(DiffServiceTest, ContentIsNamespaced) {
  ASSERT_NO_FATAL_FAILURE(Serve());
  Layer layer;
  pb::ApplyResponse resp;
  grpc::Status s = ApplyLayer(&layer, &resp, "default", "other");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
}

TEST_F(DiffServiceTest, DiffWritesLabelledLayerHeldByTheLease) {
  ASSERT_NO_FATAL_FAILURE(Serve());
  WriteFile(Path("lower/a"), "one");
  WriteFile(Path("lower/gone"), "x");
  WriteFile(Path("upper/a"), "two");
  WriteFile(Path("upper/dir/b"), "new");
  ASSERT_TRUE(env_->md().CreateLease("default", "l1", {}).ok());

  pb::DiffResponse resp;
  grpc::Status s = Diff(Path("lower"), Path("upper"), &resp, "default", "l1");
  ASSERT_TRUE(s.ok()) << s.error_message();
  const Descriptor diff = grpc_util::FromProto(resp.diff());
  EXPECT_EQ(diff.media_type, media_types::kOciLayerGzip);
  ASSERT_TRUE(env_->BlobOnDisk(diff.digest)) << diff.digest;
  auto info = env_->content().Info("default", diff.digest);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->size, diff.size);
  EXPECT_EQ(info->labels.count(std::string(kLabelUncompressed)), 1u);
  EXPECT_EQ(info->labels["test"], "diff");
  auto held = env_->md().ListLeaseResources("default", "l1");
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_NE(std::find(held->begin(), held->end(),
                      LeaseResource{diff.digest, std::string(kResourceContent)}),
            held->end());

  // Applied onto a copy of the lower tree, the layer gives the upper tree.
  WriteFile(Path("copy/a"), "one");
  WriteFile(Path("copy/gone"), "x");
  pb::ApplyResponse applied;
  s = Apply(diff, Path("copy"), &applied);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(applied.applied().digest(), info->labels[std::string(kLabelUncompressed)]);
  EXPECT_EQ(ReadAll(Path("copy/a")), "two");
  EXPECT_EQ(ReadAll(Path("copy/dir/b")), "new");
  EXPECT_FALSE(fs::exists(Path("copy/gone")));
}

TEST_F(DiffServiceTest, ConfiguredDifferNotLoadedFailsInit) {
  host::testing::TempDir logs;
  host::testing::LogCapture capture(logs);
  ASSERT_TRUE(capture.ok());
  ASSERT_NO_FATAL_FAILURE(Start({"walking", "nope"}));
  EXPECT_EQ(env_->service(kGrpcUri), nullptr);
  const std::string log = capture.Text();
  EXPECT_NE(log.find("needed differ not loaded: nope"), std::string::npos) << log;
  EXPECT_NE(log.find("io.containerd.grpc.v1.diff"), std::string::npos) << log;
}

}  // namespace
}  // namespace berth::host
