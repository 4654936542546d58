// The containers service against a real berthd: the stock ctr's
// `containers` commands (create --rootfs, ls, info, label, rm), containerd's
// errors, berthctl's `containers`, ListStream over gRPC, records surviving a
// restart, and containers keeping their snapshots from garbage collection.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "berthd_process.h"
#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "daemon_test.h"
#include "run_command.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

namespace cpb = containerd::services::containers::v1;

constexpr char kSpecType[] = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
class ContainersDaemonTest : public DaemonTest {
 protected:
  // Collections run only when a test asks.
  ContainersDaemonTest() : DaemonTest(BerthdOptions{"", kNoCollectionToml, {}, {}}) {}

  // `ctr containers create --rootfs DIR [--label L]... ID`.
  CommandResult CreateWithCtr(const std::string& id, const std::vector<std::string>& labels = {},
                              const std::string& ns = "default") {
    std::vector<std::string> args = {"--namespace", ns, "containers", "create", "--rootfs"};
    for (const std::string& l : labels) {
      args.push_back("--label");
      args.push_back(l);
    }
    args.push_back(rootfs_.path());
    args.push_back(id);
    return berthd_.Ctr(args);
  }

  std::unique_ptr<cpb::Containers::Stub> Stub() {
    return cpb::Containers::NewStub(ChannelTo(berthd_));
  }
  // Creates a container over gRPC, optionally on a snapshot.
  grpc::Status CreateOverGrpc(const std::string& id, const std::string& snapshot_key = "") {
    cpb::CreateContainerRequest req;
    cpb::Container* c = req.mutable_container();
    c->set_id(id);
    c->mutable_runtime()->set_name("io.containerd.runc.v2");
    c->mutable_spec()->set_type_url(kSpecType);
    c->mutable_spec()->set_value(R"({"ociVersion":"1.0.2-dev"})");
    if (!snapshot_key.empty()) {
      c->set_snapshotter("overlayfs");
      c->set_snapshot_key(snapshot_key);
    }
    cpb::CreateContainerResponse resp;
    return Stub()->Create(NamespaceContext().get(), req, &resp);
  }

  TempDir rootfs_;
};

TEST_F(ContainersDaemonTest, CtrCreateListInfoLabelRemove) {
  Ok(CreateWithCtr("web", {"team=blue"}));
  Ok(CreateWithCtr("db"));

  const std::vector<std::string> rows = OutputLines(Ctr({"containers", "ls"}));
  ASSERT_EQ(rows.size(), 3u) << Ctr({"containers", "ls"});
  EXPECT_EQ(rows[0].substr(0, 9), "CONTAINER");
  EXPECT_TRUE(Contains(rows[1], "db"));
  EXPECT_TRUE(Contains(rows[2], "web"));
  EXPECT_TRUE(Contains(rows[2], "io.containerd.runc.v2"));
  EXPECT_EQ(Ctr({"containers", "ls", "-q"}), "db\nweb\n");
  EXPECT_EQ(Ctr({"containers", "ls", "-q", "labels.team==blue"}), "web\n");
  EXPECT_EQ(Ctr({"containers", "ls", "-q", "id==db"}), "db\n");
  EXPECT_EQ(Ctr({"containers", "ls", "-q", "runtime.name==io.containerd.runc.v1"}), "");

  const std::string info = Ctr({"containers", "info", "web"});
  EXPECT_TRUE(Contains(info, "\"ID\": \"web\""));
  EXPECT_TRUE(Contains(info, "\"team\": \"blue\""));
  EXPECT_TRUE(Contains(info, "\"Name\": \"io.containerd.runc.v2\""));
  EXPECT_TRUE(Contains(info, "\"ociVersion\""));
  EXPECT_TRUE(Contains(info, "\"path\": \"" + rootfs_.path() + "\"")) << "the spec's root";
  EXPECT_FALSE(Contains(info, "\"CreatedAt\": \"0001-01-01T00:00:00Z\""));

  const std::string labelled = Ctr({"containers", "label", "web", "tier=front"});
  EXPECT_TRUE(Contains(labelled, "tier=front"));
  EXPECT_TRUE(Contains(labelled, "team=blue"));
  EXPECT_EQ(Ctr({"containers", "ls", "-q", "labels.tier==front"}), "web\n");
  Ctr({"containers", "label", "web", "team="});
  EXPECT_EQ(Ctr({"containers", "ls", "-q", "labels.team"}), "") << "an empty value clears";
  EXPECT_EQ(Ctr({"containers", "ls", "-q", "labels.tier==front"}), "web\n");

  Ctr({"containers", "rm", "web"});
  EXPECT_EQ(Ctr({"containers", "ls", "-q"}), "db\n");
  Ctr({"containers", "rm", "db"});
  EXPECT_EQ(Ctr({"containers", "ls", "-q"}), "");
}

TEST_F(ContainersDaemonTest, CtrSeesContainerdErrors) {
  Ok(CreateWithCtr("dup"));
  EXPECT_TRUE(Contains(Fails(CreateWithCtr("dup")), "already exists"));
  EXPECT_TRUE(Contains(Fails(berthd_.Ctr({"containers", "info", "nobody"})), "not found"));
  EXPECT_TRUE(Contains(Fails(berthd_.Ctr({"containers", "rm", "nobody"})), "not found"));
  EXPECT_TRUE(Contains(Fails(berthd_.Ctr({"containers", "label", "nobody", "a=b"})),
                       "not found"));
  const std::string bad = Fails(CreateWithCtr("bad..id"));
  EXPECT_TRUE(Contains(bad, "invalid argument"));
  EXPECT_TRUE(Contains(bad, "container.ID"));
  EXPECT_TRUE(Contains(Fails(berthd_.Ctr({"containers", "ls", "labels.a=="})),
                       "invalid argument"));
  EXPECT_EQ(Ctr({"containers", "ls", "-q"}), "dup\n") << "nothing else was stored";
}

TEST_F(ContainersDaemonTest, NamespacesKeepContainersApart) {
  Ok(CreateWithCtr("c", {}, "other"));
  Ok(CreateWithCtr("c"));
  EXPECT_EQ(Ctr({"--namespace", "other", "containers", "ls", "-q"}), "c\n");
  Ctr({"containers", "rm", "c"});
  EXPECT_EQ(Ctr({"containers", "ls", "-q"}), "");
  EXPECT_EQ(Ctr({"--namespace", "other", "containers", "ls", "-q"}), "c\n");
  EXPECT_TRUE(Contains(Fails(berthd_.Ctr({"namespaces", "rm", "other"})), "other"))
      << "a namespace holding a container cannot go";
  Ctr({"--namespace", "other", "containers", "rm", "c"});
  Ctr({"namespaces", "rm", "other"});
  EXPECT_FALSE(Contains(Ctr({"namespaces", "ls", "-q"}), "other"));
}

TEST_F(ContainersDaemonTest, BerthctlListsInspectsLabelsAndRemoves) {
  Ok(CreateWithCtr("app", {"team=red"}));
  const std::string ls = Ok(berthd_.Berthctl({"containers", "ls"}));
  EXPECT_TRUE(Contains(ls, "CONTAINER"));
  EXPECT_TRUE(Contains(ls, "app"));
  EXPECT_TRUE(Contains(ls, "io.containerd.runc.v2"));
  EXPECT_EQ(Ok(berthd_.Berthctl({"containers", "ls", "-q", "labels.team==red"})), "app\n");
  EXPECT_EQ(Ok(berthd_.Berthctl({"containers", "ls", "-q", "labels.team==blue"})), "");
  const std::string info = Ok(berthd_.Berthctl({"containers", "info", "app"}));
  EXPECT_TRUE(Contains(info, "\"ID\": \"app\""));
  EXPECT_TRUE(Contains(info, "\"path\": \"" + rootfs_.path() + "\""));
  const std::string spec = Ok(berthd_.Berthctl({"containers", "info", "--spec", "app"}));
  EXPECT_TRUE(Contains(spec, "\"ociVersion\""));
  EXPECT_FALSE(Contains(spec, "\"ID\": \"app\""));
  EXPECT_EQ(Ok(berthd_.Berthctl({"containers", "label", "app", "env=prod"})),
            "env=prod,team=red\n");
  EXPECT_EQ(Ok(berthd_.Berthctl({"containers", "label", "app", "team="})), "env=prod\n");
  EXPECT_TRUE(Contains(Ctr({"containers", "info", "app"}), "\"env\": \"prod\""))
      << "ctr sees berthctl's label";
  EXPECT_TRUE(Contains(Fails(berthd_.Berthctl({"containers", "info", "nope"})), "not found"));
  Ok(berthd_.Berthctl({"containers", "rm", "app"}));
  EXPECT_EQ(Ctr({"containers", "ls", "-q"}), "");
  EXPECT_TRUE(Contains(Fails(berthd_.Berthctl({"containers", "rm", "app"})), "not found"));
}

TEST_F(ContainersDaemonTest, ListStreamSendsEveryContainer) {
  constexpr int kCount = 120;
  for (int i = 0; i < kCount; ++i) {
    grpc::Status s = CreateOverGrpc("c" + std::to_string(1000 + i));
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  auto stub = Stub();
  auto ctx = NamespaceContext();
  cpb::ListContainersRequest req;
  auto reader = stub->ListStream(ctx.get(), req);
  cpb::ListContainerMessage msg;
  std::vector<std::string> ids;
  while (reader->Read(&msg)) ids.push_back(msg.container().id());
  grpc::Status s = reader->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(ids.front(), "c1000");
  EXPECT_EQ(ids.back(), "c1119");

  auto no_ns = std::make_unique<grpc::ClientContext>();
  auto failed = stub->ListStream(no_ns.get(), req);
  while (failed->Read(&msg)) {
  }
  EXPECT_EQ(failed->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  cpb::ListContainersRequest filtered;
  filtered.add_filters("id==c1005");
  cpb::ListContainersResponse resp;
  ASSERT_TRUE(stub->List(NamespaceContext().get(), filtered, &resp).ok());
  ASSERT_EQ(resp.containers_size(), 1);
  EXPECT_EQ(resp.containers(0).spec().type_url(), kSpecType);
  EXPECT_GT(resp.containers(0).created_at().seconds(), 0);
}

TEST_F(ContainersDaemonTest, UpdateRejectsImmutableFieldsOverGrpc) {
  ASSERT_TRUE(CreateOverGrpc("u").ok());
  auto stub = Stub();
  cpb::UpdateContainerRequest req;
  req.mutable_container()->set_id("u");
  req.mutable_container()->mutable_runtime()->set_name("io.containerd.runsc.v1");
  req.mutable_update_mask()->add_paths("runtime");
  cpb::UpdateContainerResponse resp;
  grpc::Status s = stub->Update(NamespaceContext().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(s.error_message(), "cannot update \"runtime\" field"));

  req.clear_update_mask();  // a full replace with another runtime
  s = stub->Update(NamespaceContext().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(s.error_message(), "immutable"));

  req.mutable_container()->set_id("");
  s = stub->Update(NamespaceContext().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  cpb::UpdateContainerRequest image;
  image.mutable_container()->set_id("u");
  image.mutable_container()->set_image("example.com/app:1");
  image.mutable_update_mask()->add_paths("image");
  ASSERT_TRUE(stub->Update(NamespaceContext().get(), image, &resp).ok());
  EXPECT_EQ(resp.container().image(), "example.com/app:1");
  EXPECT_EQ(resp.container().runtime().name(), "io.containerd.runc.v2");
  EXPECT_TRUE(Contains(Ctr({"containers", "ls"}), "example.com/app:1"));
}

TEST_F(ContainersDaemonTest, ContainersSurviveARestart) {
  Ok(CreateWithCtr("keep", {"a=b"}));
  ASSERT_EQ(berthd_.Stop(), 0) << berthd_.Log();
  ASSERT_TRUE(berthd_.Start());
  ASSERT_TRUE(berthd_.WaitServing());
  EXPECT_EQ(Ctr({"containers", "ls", "-q", "labels.a==b"}), "keep\n");
}

TEST_F(ContainersDaemonTest, ContainerKeepsItsSnapshotFromCollection) {
  // ctr labels what it prepares containerd.io/gc.root; clear it.
  for (const std::string key : {"held-rootfs", "scratch"}) {
    Ctr({"snapshots", "prepare", key});
    Ctr({"snapshots", "label", key, "containerd.io/gc.root="});
  }
  ASSERT_TRUE(CreateOverGrpc("holder", "held-rootfs").ok());
  ASSERT_TRUE(CreateOverGrpc("keeper", "kept-rootfs").ok()) << "a key need not exist yet";
  Ok(berthd_.Berthctl({"gc"}));
  std::string snapshots = Ctr({"snapshots", "ls"});
  EXPECT_TRUE(Contains(snapshots, "held-rootfs"));
  EXPECT_FALSE(Contains(snapshots, "scratch"));

  // Removed keeping the snapshot: the next collection frees it.
  Ok(berthd_.Berthctl({"containers", "rm", "--keep-snapshot", "holder"}));
  EXPECT_TRUE(Contains(Ctr({"snapshots", "ls"}), "held-rootfs"));
  Ok(berthd_.Berthctl({"gc"}));
  EXPECT_FALSE(Contains(Ctr({"snapshots", "ls"}), "held-rootfs"));

  // ctr's rm removes the snapshot with the container.
  Ctr({"snapshots", "prepare", "kept-rootfs"});
  Ctr({"snapshots", "label", "kept-rootfs", "containerd.io/gc.root="});
  Ctr({"containers", "rm", "keeper"});
  EXPECT_FALSE(Contains(Ctr({"snapshots", "ls"}), "kept-rootfs"));
  EXPECT_EQ(Ctr({"containers", "ls", "-q"}), "");
}

}  // namespace
}  // namespace berth::test
