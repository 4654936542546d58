// Helpers the proxy integration tests share: the config of a proxy plugin,
// the mounts `ctr snapshots mounts` prints, and a mount that is taken down
// however the test ends. Not thread-safe; owned by one test.
#ifndef BERTH_PROXY_TESTS_PROXY_TEST_UTIL_H_
#define BERTH_PROXY_TESTS_PROXY_TEST_UTIL_H_

#include <string>
#include <vector>

#include "berth/mount.h"
#include "berth/status.h"

namespace berth::test {

// berthd's extra config line that keeps scheduled garbage collection off:
// `ctr content ingest` and `ctr snapshots commit` set no gc.root label, and
// these tests look at what they made, not at collection.
inline constexpr char kNoScheduledGc[] = "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n";

// A `[proxy_plugins.<name>]` table; `extra` holds further "key = value" lines.
std::string ProxyPluginToml(const std::string& name, const std::string& type,
                            const std::string& socket, const std::string& extra = "");

// The mount command lines `ctr snapshots mounts TARGET KEY` prints, parsed.
std::vector<Mount> ParseMountCommands(const std::string& text);

// Mounts `mounts` on the fresh folder `where`; unmounts it (and removes the
// folder) on destruction.
class MountedAt {
 public:
  MountedAt(const std::vector<Mount>& mounts, std::string where);
  ~MountedAt();
  MountedAt(const MountedAt&) = delete;
  MountedAt& operator=(const MountedAt&) = delete;

  const Status& status() const { return status_; }
  std::string operator/(const std::string& rel) const { return where_ + "/" + rel; }

 private:
  std::string where_;
  Status status_;
};

}  // namespace berth::test

#endif  // BERTH_PROXY_TESTS_PROXY_TEST_UTIL_H_
