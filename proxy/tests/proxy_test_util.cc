#include "proxy_test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <utility>

namespace berth::test {

std::string ProxyPluginToml(const std::string& name, const std::string& type,
                            const std::string& socket, const std::string& extra) {
  return "[proxy_plugins." + name + "]\n  type = \"" + type + "\"\n  address = \"" + socket +
         "\"\n" + extra + "\n";
}

std::vector<Mount> ParseMountCommands(const std::string& text) {
  std::vector<Mount> mounts;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string mount_word, dash_t, type, source, target, dash_o, options;
    words >> mount_word >> dash_t >> type >> source >> target >> dash_o >> options;
    if (mount_word != "mount" || dash_t != "-t" || dash_o != "-o") continue;
    Mount m{type, source, "", {}};
    std::istringstream opts(options);
    for (std::string o; std::getline(opts, o, ',');) m.options.push_back(o);
    mounts.push_back(std::move(m));
  }
  return mounts;
}

MountedAt::MountedAt(const std::vector<Mount>& mounts, std::string where)
    : where_(std::move(where)) {
  std::filesystem::create_directories(where_);
  status_ = mounts.empty() ? Status::InvalidArgument("no mounts") : MountAll(mounts, where_);
}

MountedAt::~MountedAt() {
  Status s = UnmountAll(where_);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::error_code ec;
  std::filesystem::remove(where_, ec);
}

}  // namespace berth::test
