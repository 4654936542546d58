#include "services/introspection.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "berth/plugin_types.h"
#include "builtins.h"
#include "core/plugin_set.h"

namespace berth::host {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<PluginRecord> MakeRecord(std::string type, std::string id,
                                         PluginState state,
                                         Status status = {}) {
  auto record = std::make_unique<PluginRecord>();
  record->registration.type = std::move(type);
  record->registration.id = std::move(id);
  record->state = state;
  record->init_status = std::move(status);
  return record;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-introspection-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(IntrospectionRecordTest, OkRecordCarriesMetaAndNoError) {
  auto record =
      MakeRecord("io.containerd.snapshotter.v1", "overlayfs", PluginState::kOk);
  record->registration.required_types = {"io.containerd.content.v1"};
  record->meta.platforms = {{"linux", "amd64", ""}};
  record->meta.exports = {{"root", "/var/lib/x"}};
  record->meta.capabilities = {"remap-ids"};
  introspection_pb::Plugin p = RecordToProto(*record);
  EXPECT_EQ(p.type(), "io.containerd.snapshotter.v1");
  EXPECT_EQ(p.id(), "overlayfs");
  ASSERT_EQ(p.requires_types_size(), 1);
  EXPECT_EQ(p.requires_types(0), "io.containerd.content.v1");
  ASSERT_EQ(p.platforms_size(), 1);
  EXPECT_EQ(p.platforms(0).os(), "linux");
  EXPECT_EQ(p.platforms(0).architecture(), "amd64");
  EXPECT_EQ(p.exports().at("root"), "/var/lib/x");
  ASSERT_EQ(p.capabilities_size(), 1);
  EXPECT_FALSE(p.has_init_err());
  EXPECT_TRUE(IsListed(*record));
}

TEST(IntrospectionRecordTest, FailureAndSkipCarryInitErr) {
  auto failed = MakeRecord("io.containerd.grpc.v1", "x", PluginState::kFailed,
                           Status::FailedPrecondition("no content store"));
  introspection_pb::Plugin f = RecordToProto(*failed);
  ASSERT_TRUE(f.has_init_err());
  EXPECT_EQ(f.init_err().code(),
            static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(f.init_err().message(), "no content store: failed precondition");

  auto skipped =
      MakeRecord("io.containerd.snapshotter.v1", "btrfs", PluginState::kSkipped,
                 Status::SkipPlugin("path must be a btrfs filesystem"));
  introspection_pb::Plugin s = RecordToProto(*skipped);
  ASSERT_TRUE(s.has_init_err());
  EXPECT_EQ(s.init_err().code(), static_cast<int>(grpc::StatusCode::UNKNOWN));
  EXPECT_NE(s.init_err().message().find("skip plugin"), std::string::npos);
}

TEST(IntrospectionRecordTest, DisabledAndPendingAreNotListed) {
  EXPECT_FALSE(IsListed(*MakeRecord("t", "a", PluginState::kDisabled)));
  EXPECT_FALSE(IsListed(*MakeRecord("t", "b", PluginState::kPending)));
}

TEST(IntrospectionUuidTest, GeneratedOnceAndKept) {
  TempDir dir;
  std::string root = dir.path() + "/io.containerd.grpc.v1.introspection";
  IntrospectionService first(nullptr, root);
  Result<std::string> a = first.Uuid();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(IsUuid(*a));
  EXPECT_EQ((*a)[14], '4');  // version 4

  std::ifstream in(root + "/uuid");
  std::string stored;
  std::getline(in, stored);
  EXPECT_EQ(stored, *a);

  IntrospectionService second(nullptr, root);  // as after a restart
  Result<std::string> b = second.Uuid();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, *a);
}

TEST(IntrospectionUuidTest, CorruptFileIsAnError) {
  TempDir dir;
  std::ofstream(dir.path() + "/uuid") << "not-a-uuid";
  IntrospectionService service(nullptr, dir.path());
  EXPECT_EQ(service.Uuid().status().code(), Code::kFailedPrecondition);
  EXPECT_NE(NewUuid(), NewUuid());
}

// A real PluginSet: introspection itself, one failing, one skipping and one
// disabled plugin.
class IntrospectionListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HostEnv env{&config_, &plugins_};
    std::vector<SourcedRegistration> regs;
    regs.push_back({IntrospectionRegistration(env), ""});
    Registration failing;
    failing.type = "io.containerd.internal.v1";
    failing.id = "broken";
    failing.init = [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
      return Status::Unavailable("device gone");
    };
    regs.push_back({failing, ""});
    Registration skipping;
    skipping.type = "io.containerd.snapshotter.v1";
    skipping.id = "elsewhere";
    skipping.init = [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
      return Status::SkipPlugin("not here");
    };
    regs.push_back({skipping, ""});
    Registration disabled = skipping;
    disabled.id = "off";
    regs.push_back({disabled, ""});
    plugins_.Add(std::move(regs));

    InitParams params;
    params.root = dir_.path() + "/root";
    params.state = dir_.path() + "/state";
    params.grpc_address = dir_.path() + "/berthd.sock";
    params.ttrpc_address = params.grpc_address + ".ttrpc";
    params.plugin_tables = &config_.plugins;
    params.disabled = {"io.containerd.snapshotter.v1.off"};
    std::vector<ConfigWarning> warnings;
    ASSERT_TRUE(plugins_.Init(params, &warnings).ok());
    const PluginRecord* record =
        plugins_.Find("io.containerd.grpc.v1.introspection");
    ASSERT_NE(record, nullptr);
    ASSERT_EQ(record->state, PluginState::kOk);
    service_ = std::make_unique<IntrospectionService>(&plugins_, dir_.path());
  }
  void TearDown() override { plugins_.Close(); }

  std::vector<std::string> Uris(const std::vector<std::string>& filters) {
    Result<std::vector<introspection_pb::Plugin>> list =
        service_->ListPlugins(filters);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    std::vector<std::string> uris;
    if (list.ok()) {
      for (const auto& p : *list) uris.push_back(p.type() + "." + p.id());
    }
    return uris;
  }

  TempDir dir_;
  Config config_;
  PluginSet plugins_;
  std::unique_ptr<IntrospectionService> service_;
};

TEST_F(IntrospectionListTest, ListsEveryPluginButDisabledOnes) {
  std::vector<std::string> all = Uris({});
  EXPECT_EQ(all, (std::vector<std::string>{
                     "io.containerd.grpc.v1.introspection",
                     "io.containerd.internal.v1.broken",
                     "io.containerd.snapshotter.v1.elsewhere",
                 }));
}

TEST_F(IntrospectionListTest, FiltersByTypeAndId) {
  EXPECT_EQ(Uris({"type==io.containerd.grpc.v1,id==introspection"}),
            std::vector<std::string>{"io.containerd.grpc.v1.introspection"});
  EXPECT_TRUE(Uris({"type==io.containerd.grpc.v1,id==broken"}).empty());
  EXPECT_EQ(
      Uris({"id==broken", "id==elsewhere"}),
      (std::vector<std::string>{"io.containerd.internal.v1.broken",
                                "io.containerd.snapshotter.v1.elsewhere"}));
  EXPECT_TRUE(Uris({"id==nothing"}).empty());
}

TEST_F(IntrospectionListTest, BadFilterIsInvalidArgument) {
  Result<std::vector<introspection_pb::Plugin>> list =
      service_->ListPlugins({"id==\"unterminated"});
  EXPECT_EQ(list.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace berth::host
