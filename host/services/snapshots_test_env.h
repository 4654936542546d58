// SnapshotsTestEnv: the real metadata plugin, the real content-local and
// snapshot-overlay plugins (loaded from the build's plugin folder through the
// host's loader) and the snapshots service plugin, initialised on a fresh
// temporary root. Shared by the snapshot wrapper and service tests.
// Not thread-safe; owned by one test.
#ifndef BERTH_HOST_SERVICES_SNAPSHOTS_TEST_ENV_H_
#define BERTH_HOST_SERVICES_SNAPSHOTS_TEST_ENV_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "berth/grpc_service.h"
#include "core/loader.h"
#include "core/plugin_set.h"
#include "core/test_util.h"
#include "metadata/plugin.h"
#include "services/snapshots_service.h"

namespace berth::host::testing {

inline std::string BuiltPluginPath(const std::string& name) {
  // The fixture folder is <build>/tests/fixtures; plugins are built into
  // <build>/lib/berth/plugins.
  return std::string(BERTH_TEST_FIXTURE_DIR) + "/../../lib/berth/plugins/" + name +
         ".so";
}

class SnapshotsTestEnv {
 public:
  // Loads and initialises everything; check ok() (and failure()) afterwards.
  SnapshotsTestEnv() {
    if (!dir_.ok()) {
      failure_ = "cannot make a temporary folder";
      return;
    }
    std::vector<SourcedRegistration> regs;
    regs.push_back({MetadataRegistration(HostEnv{}), ""});
    regs.push_back({SnapshotsServiceRegistration(HostEnv{}), ""});
    for (const char* name : {"content-local", "snapshot-overlay"}) {
      const std::string path = BuiltPluginPath(name);
      if (!std::filesystem::exists(path)) {
        failure_ = "build the " + std::string(name) + " target first: " + path;
        return;
      }
      Status loaded = loader_.LoadFile(path, regs);
      if (!loaded.ok()) {
        failure_ = loaded.ToString();
        return;
      }
    }
    set_.Add(std::move(regs));
    InitParams params;
    params.root = dir_.path() + "/root";
    params.state = dir_.path() + "/state";
    std::vector<ConfigWarning> warnings;
    Status init = set_.Init(params, &warnings);
    inited_ = true;
    if (!init.ok()) {
      failure_ = init.ToString();
      return;
    }
    Locate();
  }
  ~SnapshotsTestEnv() {
    service_ = nullptr;
    if (inited_) set_.Close();
  }
  SnapshotsTestEnv(const SnapshotsTestEnv&) = delete;
  SnapshotsTestEnv& operator=(const SnapshotsTestEnv&) = delete;

  bool ok() const { return service_ != nullptr; }
  const std::string& failure() const { return failure_; }
  SnapshotsService& service() { return *service_; }
  // The namespaced overlayfs snapshotter the service uses.
  metadata::NamespacedSnapshotter& overlay() { return **service_->Find("overlayfs"); }
  metadata::MetadataStore& db() {
    return std::dynamic_pointer_cast<metadata::MetadataPlugin>(
               set_.Find("io.containerd.metadata.v1.leveldb")->instance)
        ->db();
  }
  std::string OverlayRoot() const {
    return dir_.path() + "/root/io.containerd.snapshotter.v1.overlayfs";
  }
  const TempDir& dir() const { return dir_; }

 private:
  void Locate() {
    for (const char* uri : {"io.containerd.metadata.v1.leveldb",
                            "io.containerd.snapshotter.v1.overlayfs",
                            "io.containerd.grpc.v1.snapshots"}) {
      const PluginRecord* r = set_.Find(uri);
      if (r == nullptr || r->state != PluginState::kOk) {
        failure_ = std::string(uri) + " did not initialise" +
                   (r == nullptr ? "" : ": " + r->init_status.ToString());
        return;
      }
    }
    auto grpc = std::dynamic_pointer_cast<GrpcServicePlugin>(
        set_.Find("io.containerd.grpc.v1.snapshots")->instance);
    if (grpc == nullptr || grpc->Services().empty()) {
      failure_ = "the snapshots plugin offers no gRPC service";
      return;
    }
    service_ = dynamic_cast<SnapshotsService*>(grpc->Services().front());
    if (service_ == nullptr) failure_ = "the gRPC service is not SnapshotsService";
    if (service_ != nullptr && !service_->Find("overlayfs").ok()) {
      failure_ = "the service has no overlayfs snapshotter";
      service_ = nullptr;
    }
  }

  TempDir dir_;
  PluginLoader loader_;
  PluginSet set_;
  bool inited_ = false;
  std::string failure_;
  SnapshotsService* service_ = nullptr;
};

}  // namespace berth::host::testing

#endif  // BERTH_HOST_SERVICES_SNAPSHOTS_TEST_ENV_H_
