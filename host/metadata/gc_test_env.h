// GcTestEnv: the real metadata plugin over the real content-local and
// snapshot-overlay plugins (loaded from the build's plugin folder), on a
// fresh temporary root, with helpers to put content and snapshots in and to
// look at what is on disk. Shared by the garbage-collection and lease tests.
// Not thread-safe; owned by one test.
#ifndef BERTH_HOST_METADATA_GC_TEST_ENV_H_
#define BERTH_HOST_METADATA_GC_TEST_ENV_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "berth/digest.h"
#include "core/loader.h"
#include "core/plugin_set.h"
#include "core/test_util.h"
#include "metadata/plugin.h"

namespace berth::host::metadata::testing {

inline std::string PluginPath(const std::string& name) {
  return std::string(BERTH_TEST_FIXTURE_DIR) + "/../../lib/berth/plugins/" + name + ".so";
}

class GcTestEnv {
 public:
  GcTestEnv() {
    if (!dir_.ok()) {
      failure_ = "cannot make a temporary folder";
      return;
    }
    std::vector<SourcedRegistration> regs;
    regs.push_back({MetadataRegistration(HostEnv{}), ""});
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
  ~GcTestEnv() {
    md_.reset();
    if (inited_) set_.Close();
  }
  GcTestEnv(const GcTestEnv&) = delete;
  GcTestEnv& operator=(const GcTestEnv&) = delete;

  bool ok() const { return md_ != nullptr; }
  const std::string& failure() const { return failure_; }
  MetadataPlugin& md() { return *md_; }
  NamespacedContentStore& content() { return md_->content(); }
  NamespacedSnapshotter& overlay() { return *md_->snapshotter("overlayfs"); }

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

#endif  // BERTH_HOST_METADATA_GC_TEST_ENV_H_
