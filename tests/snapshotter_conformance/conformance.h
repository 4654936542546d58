// The snapshotter conformance suite: containerd's snapshot rules, real mounts
// through layers, read-only views, usage, labels, reopening, cleanup and
// concurrent use, checked the same way for every berth::Snapshotter.
//
// A snapshotter's test target links berth-snapshotter-conformance and
// instantiates the suite with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Overlay, SnapshotterConformance,
//                            ::testing::Values(OverlayFactory()),
//                            berth::test::FactoryName);
//
// Each test makes its own scratch space, opens the snapshotter there, and on
// the way out (also after a failure) releases the snapshotter, unmounts what
// it mounted and destroys the scratch space. Tests run as root.
#ifndef BERTH_TESTS_SNAPSHOTTER_CONFORMANCE_CONFORMANCE_H_
#define BERTH_TESTS_SNAPSHOTTER_CONFORMANCE_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <memory>
#include <string>

#include "berth/snapshotter.h"
#include "berth/status.h"

namespace berth::test {

// Storage for one test. Its destructor is the cleanup hook: it undoes what
// making it did (unmounts, loop devices, folders).
class Scratch {
 public:
  virtual ~Scratch() = default;
  // An empty folder, on a filesystem the snapshotter can use.
  virtual const std::string& path() const = 0;
};

// A folder under `base` (default /var/tmp, a real disk) removed on
// destruction, after anything mounted under it is unmounted.
std::unique_ptr<Scratch> MakeFolderScratch(const std::string& base = "/var/tmp");

struct SnapshotterFactory {
  // Names the instantiation in test names ("overlayfs", "btrfs").
  std::string name;
  // Makes the scratch space for one test; an error fails the test.
  std::function<Result<std::unique_ptr<Scratch>>()> make_scratch;
  // Opens the snapshotter rooted at `root` (a folder inside the scratch
  // space); called again on the same root to reopen.
  std::function<Result<std::shared_ptr<Snapshotter>>(const std::string& root)> open;
};

// For INSTANTIATE_TEST_SUITE_P's name generator.
std::string FactoryName(const ::testing::TestParamInfo<SnapshotterFactory>& info);

// Prints the factory's name (GoogleTest shows it as the test's parameter).
void PrintTo(const SnapshotterFactory& factory, std::ostream* os);

// The suite's fixture; the tests are in conformance_test.cc.
class SnapshotterConformance : public ::testing::TestWithParam<SnapshotterFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // (Re)opens the snapshotter on root(); fails the test on error.
  void Open();
  std::string root() const;
  // A mount point for `name` inside the scratch space (not created).
  std::string MountPoint(const std::string& name) const;

  std::unique_ptr<Scratch> scratch_;
  std::shared_ptr<Snapshotter> sn_;
};

}  // namespace berth::test

#endif  // BERTH_TESTS_SNAPSHOTTER_CONFORMANCE_CONFORMANCE_H_
