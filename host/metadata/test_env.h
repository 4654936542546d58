// MetadataTestEnv: the real metadata plugin over the real content-local and
// snapshot-overlay plugins (loaded from the build's plugin folder), on a
// fresh temporary root, with helpers to put content and snapshots in and to
// look at what is on disk; optionally with built-in service plugins on top
// (their gRPC services for a test server). The one environment of every
// metadata and service test. Not thread-safe; owned by one test.
#ifndef BERTH_HOST_METADATA_TEST_ENV_H_
#define BERTH_HOST_METADATA_TEST_ENV_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "berth/digest.h"
#include "berth/grpc_service.h"
#include "berth/runner/loader.h"
#include "core/plugin_set.h"
#include "test_util.h"
#include "metadata/plugin.h"

namespace berth::host::metadata::testing {

inline std::string PluginPath(const std::string& name) {
  return std::string(BERTH_TEST_FIXTURE_DIR) + "/../../lib/berth/plugins/" + name + ".so";
}

class MetadataTestEnv {
 public:
  // `services`: registrations initialised after the metadata plugin (e.g.
  // SnapshotsServiceRegistration(HostEnv{})).
  explicit MetadataTestEnv(std::vector<Registration> services = {}) {
    if (!dir_.ok()) {
      failure_ = "cannot make a temporary folder";
      return;
    }
    std::vector<SourcedRegistration> regs;
    regs.push_back({MetadataRegistration(HostEnv{}), ""});
    for (Registration& r : services) regs.push_back({std::move(r), ""});
    for (const char* name : {"content-local", "snapshot-overlay"}) {
      if (!std::filesystem::exists(PluginPath(name))) {
        failure_ = std::string("build the ") + name + " target first: " + PluginPath(name);
        return;
      }
      Status loaded = loader_.LoadFile(PluginPath(name), regs);
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
    const PluginRecord* r = set_.Find("io.containerd.metadata.v1.leveldb");
    if (r == nullptr || r->state != PluginState::kOk) {
      failure_ = "the metadata plugin did not initialise";
      return;
    }
    md_ = std::dynamic_pointer_cast<MetadataPlugin>(r->instance);
    if (md_ == nullptr || md_->snapshotter("overlayfs") == nullptr) {
      failure_ = "no metadata plugin with an overlayfs snapshotter";
      md_.reset();
    }
  }
  ~MetadataTestEnv() {
    md_.reset();
    if (inited_) set_.Close();
  }
  MetadataTestEnv(const MetadataTestEnv&) = delete;
  MetadataTestEnv& operator=(const MetadataTestEnv&) = delete;

  bool ok() const { return md_ != nullptr; }
  const std::string& failure() const { return failure_; }
  MetadataPlugin& md() { return *md_; }
  NamespacedContentStore& content() { return md_->content(); }
  NamespacedSnapshotter& overlay() { return *md_->snapshotter("overlayfs"); }
  MetadataStore& db() { return md_->db(); }
  const host::testing::TempDir& dir() const { return dir_; }
  std::string OverlayRoot() const {
    return dir_.path() + "/root/io.containerd.snapshotter.v1.overlayfs";
  }
  // The first gRPC service of the service plugin `uri` given at
  // construction, or nullptr when it did not initialise.
  grpc::Service* service(const std::string& uri) {
    const PluginRecord* r = set_.Find(uri);
    if (r == nullptr || r->state != PluginState::kOk) return nullptr;
    auto plugin = std::dynamic_pointer_cast<GrpcServicePlugin>(r->instance);
    if (plugin == nullptr || plugin->Services().empty()) return nullptr;
    return plugin->Services().front();
  }

  // Writes `data` as ref `ref` in `ns` and commits it; returns its digest.
  std::string Put(const std::string& ns, const std::string& data, const Labels& labels = {},
                  const std::string& lease = "") {
    const std::string ref = "ref-" + Sha256Of(data).substr(7, 12);
    auto w = content().Writer(ns, {ref, static_cast<std::int64_t>(data.size()), ""}, lease);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    if (!w.ok()) return "";
    EXPECT_TRUE((*w)->Write(data.data(), data.size()).ok());
    Status s = (*w)->Commit(static_cast<std::int64_t>(data.size()), Sha256Of(data), labels);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return Sha256Of(data);
  }
  // Prepares `name`-a over `parent` and commits it as `name`.
  void Layer(const std::string& ns, const std::string& name, const std::string& parent,
             const snapshots::Labels& labels = {}, const std::string& lease = "") {
    ASSERT_TRUE(overlay().Prepare(ns, name + "-a", parent, {}, lease).ok());
    Status s = overlay().Commit(ns, name, name + "-a", labels, lease);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  bool BlobOnDisk(const std::string& digest) const {
    return std::filesystem::exists(
        dir_.path() + "/root/io.containerd.content.v1.content/blobs/sha256/" + digest.substr(7));
  }
  std::size_t BlobsOnDisk() const {
    return Entries("io.containerd.content.v1.content/blobs/sha256");
  }
  std::size_t IngestsOnDisk() const { return Entries("io.containerd.content.v1.content/ingest"); }
  std::size_t SnapshotDirs() const {
    return Entries("io.containerd.snapshotter.v1.overlayfs/snapshots");
  }
  std::size_t BackendSnapshots() {
    std::size_t n = 0;
    Status s = overlay().backend().Walk(
        [&](const snapshots::Info&) {
          ++n;
          return Status::Ok();
        },
        {});
    EXPECT_TRUE(s.ok()) << s.ToString();
    return n;
  }
  // Runs a collection, failing the test on error.
  gc::Stats Collect() {
    auto stats = md_->GarbageCollect();
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? *stats : gc::Stats{};
  }

 private:
  std::size_t Entries(const std::string& rel) const {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir_.path() + "/root/" + rel, ec);
         !ec && it != std::filesystem::directory_iterator(); ++it) {
      ++n;
    }
    return n;
  }

  host::testing::TempDir dir_;
  PluginLoader loader_;
  PluginSet set_;
  bool inited_ = false;
  std::string failure_;
  std::shared_ptr<MetadataPlugin> md_;
};

}  // namespace berth::host::metadata::testing

#endif  // BERTH_HOST_METADATA_TEST_ENV_H_
