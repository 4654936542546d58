// BtrfsLoop: a btrfs filesystem of its own for one test or benchmark: a sparse
// image file in a fresh folder under /var/tmp, formatted with mkfs.btrfs,
// attached with `losetup --find --show` and mounted on "<folder>/mnt".
//
// The destructor undoes whatever setup reached, also after a failed step:
// it lazily unmounts everything mounted at or under the mount point (deepest
// first), detaches the loop device and removes the folder with the image.
// Needs root, mkfs.btrfs and losetup (btrfs-progs, util-linux).
//
// Not thread-safe; owned by one test. Uses no GoogleTest type, so benchmarks
// may use it too.
#ifndef BERTH_TESTS_HARNESS_BTRFS_LOOP_H_
#define BERTH_TESTS_HARNESS_BTRFS_LOOP_H_

#include <cstdint>
#include <string>

namespace berth::test {

class BtrfsLoop {
 public:
  // Builds and mounts the filesystem (sparse: `size_bytes` costs nothing
  // until written; btrfs needs at least about 120 MiB). Check ok().
  explicit BtrfsLoop(std::uint64_t size_bytes = std::uint64_t{1} << 30);
  ~BtrfsLoop();
  BtrfsLoop(const BtrfsLoop&) = delete;
  BtrfsLoop& operator=(const BtrfsLoop&) = delete;

  // Whether the filesystem is mounted; otherwise error() names the step that
  // failed with its output.
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // The mount point (empty until mounted) and the loop device ("/dev/loopN").
  const std::string& mount_point() const { return mount_point_; }
  const std::string& device() const { return device_; }
  // "<mount point>/<relative>".
  std::string Join(const std::string& relative) const;

 private:
  bool SetUp(std::uint64_t size_bytes);
  void TearDown();

  std::string dir_;
  std::string image_;
  std::string device_;
  std::string mount_point_;
  std::string error_;
};

// Unmounts (MNT_DETACH) every mount at or under `path`, deepest first, until
// /proc/self/mountinfo lists none (bounded). False if some remain.
bool DetachMountsUnder(const std::string& path);

}  // namespace berth::test

#endif  // BERTH_TESTS_HARNESS_BTRFS_LOOP_H_
