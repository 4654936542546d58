#include "btrfs_loop.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "run_command.h"

namespace berth::test {
namespace {

namespace fs = std::filesystem;

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

std::vector<std::string> MountsAtOrUnder(const std::string& path) {
  std::vector<std::string> found;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    mount_point = Unescape(mount_point);
    if (mount_point == path || mount_point.starts_with(path + "/")) {
      found.push_back(mount_point);
    }
  }
  return found;
}

// losetup takes the first free device, but in a container without udev its
// node may be missing; make it, as udev would.
void EnsureNextLoopNode() {
  const int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (control < 0) return;
  const int n = ioctl(control, LOOP_CTL_GET_FREE);
  close(control);
  if (n < 0) return;
  const std::string node = "/dev/loop" + std::to_string(n);
  struct stat st {};
  if (stat(node.c_str(), &st) != 0) mknod(node.c_str(), S_IFBLK | 0660, makedev(7, n));
}

}  // namespace

bool DetachMountsUnder(const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::vector<std::string> mounts = MountsAtOrUnder(path);
    if (mounts.empty()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    // Deepest first; the later of two mounts on one point is on top.
    std::stable_sort(mounts.begin(), mounts.end(), [](const std::string& a, const std::string& b) {
      return a.size() > b.size();
    });
    for (const auto& m : mounts) umount2(m.c_str(), MNT_DETACH);
  }
}

BtrfsLoop::BtrfsLoop(std::uint64_t size_bytes) {
  if (!SetUp(size_bytes) && error_.empty()) error_ = "btrfs loop setup failed";
}

BtrfsLoop::~BtrfsLoop() { TearDown(); }

std::string BtrfsLoop::Join(const std::string& relative) const {
  return mount_point_ + "/" + relative;
}

bool BtrfsLoop::SetUp(std::uint64_t size_bytes) {
  std::string tmpl = "/var/tmp/berth-btrfs-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    error_ = std::string("mkdtemp /var/tmp: ") + std::strerror(errno);
    return false;
  }
  dir_ = tmpl;
  image_ = dir_ + "/btrfs.img";
  const int fd = open(image_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(size_bytes)) != 0) {
    error_ = "create " + image_ + ": " + std::strerror(errno);
    if (fd >= 0) close(fd);
    return false;
  }
  close(fd);
  CommandResult mkfs = RunCommand({"mkfs.btrfs", "-q", "-f", image_});
  if (mkfs.exit_code != 0) {
    error_ = "mkfs.btrfs: " + mkfs.Describe();
    return false;
  }
  CommandResult attach;
  for (int attempt = 0; attempt < 3; ++attempt) {
    EnsureNextLoopNode();
    attach = RunCommand({"losetup", "--find", "--show", image_});
    if (attach.exit_code == 0) break;
  }
  if (attach.exit_code != 0) {
    error_ = "losetup --find --show: " + attach.Describe();
    return false;
  }
  device_ = attach.out.substr(0, attach.out.find('\n'));
  const std::string mnt = dir_ + "/mnt";
  if (mkdir(mnt.c_str(), 0755) != 0) {
    error_ = "mkdir " + mnt + ": " + std::strerror(errno);
    return false;
  }
  if (mount(device_.c_str(), mnt.c_str(), "btrfs", 0, nullptr) != 0) {
    error_ = "mount " + device_ + " on " + mnt + ": " + std::strerror(errno);
    return false;
  }
  mount_point_ = mnt;
  return true;
}

void BtrfsLoop::TearDown() {
  if (dir_.empty()) return;
  const std::string mnt = dir_ + "/mnt";
  if (!DetachMountsUnder(mnt)) {
    std::fprintf(stderr, "BtrfsLoop: mounts under %s remain\n", mnt.c_str());
  }
  if (!device_.empty()) {
    CommandResult detach = RunCommand({"losetup", "--detach", device_});
    if (detach.exit_code != 0) {
      std::fprintf(stderr, "BtrfsLoop: %s\n", detach.Describe().c_str());
    }
  }
  // Only a folder with nothing mounted in it is removed.
  if (MountsAtOrUnder(dir_).empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

}  // namespace berth::test
