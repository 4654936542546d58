// The runtime's platform side and bundles: shim names and lookup as
// containerd's, running shim commands with a bound, bundle layout.
#include "shim_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "bundle.h"

namespace berth::runtime_v2 {
namespace {

namespace fs = std::filesystem;

class ScratchDir {
 public:
  ScratchDir() {
    std::string templ = (fs::temp_directory_path() / "berth-runtime-test-XXXXXX").string();
    path_ = mkdtemp(templ.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void WriteExecutable(const std::string& path) {
  std::ofstream(path) << "#!/bin/sh\nexit 0\n";
  chmod(path.c_str(), 0755);
}

TEST(ShimBinaryNameTest, TakesTheLastTwoParts) {
  EXPECT_EQ(ShimBinaryName("io.containerd.runc.v2"), "containerd-shim-runc-v2");
  EXPECT_EQ(ShimBinaryName("io.containerd.berth.v2"), "containerd-shim-berth-v2");
  EXPECT_EQ(ShimBinaryName("runc.v1"), "containerd-shim-runc-v1");
  EXPECT_EQ(ShimBinaryName("runc"), "");
  EXPECT_EQ(ShimBinaryName("io.containerd.runc."), "");
  EXPECT_EQ(ShimBinaryName(""), "");
}

TEST(ResolveShimBinaryTest, LooksBesideTheDaemonFirst) {
  ScratchDir dir;
  WriteExecutable(dir.path() + "/containerd-shim-test-v9");
  auto found = ResolveShimBinary("io.containerd.test.v9", dir.path());
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, dir.path() + "/containerd-shim-test-v9");
}

TEST(ResolveShimBinaryTest, ThenOnPath) {
  ScratchDir self, bin;
  WriteExecutable(bin.path() + "/containerd-shim-onpath-v1");
  std::string old_path = getenv("PATH");
  setenv("PATH", ("/nonexistent:" + bin.path()).c_str(), 1);
  auto found = ResolveShimBinary("io.containerd.onpath.v1", self.path());
  setenv("PATH", old_path.c_str(), 1);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, bin.path() + "/containerd-shim-onpath-v1");
}

TEST(ResolveShimBinaryTest, ErrorsAsContainerds) {
  ScratchDir dir;
  auto missing = ResolveShimBinary("io.containerd.absent.v7", dir.path());
  EXPECT_TRUE(missing.status().Is(Code::kNotFound)) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("containerd-shim-absent-v7"), std::string::npos);
  EXPECT_TRUE(ResolveShimBinary("runc", dir.path()).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(ResolveShimBinary("", dir.path()).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(ResolveShimBinary("/no/such/shim", dir.path()).status().Is(Code::kNotFound));
  WriteExecutable(dir.path() + "/custom");
  EXPECT_EQ(*ResolveShimBinary(dir.path() + "/custom", ""), dir.path() + "/custom");
}

TEST(RunCommandTest, FeedsStdinAndCollectsBothOutputs) {
  ScratchDir dir;
  CommandSpec spec;
  spec.argv = {"/bin/sh", "-c", "cat; echo err >&2; pwd >&2; echo $BERTH_X; exit 4"};
  spec.cwd = dir.path();
  spec.extra_env = {"BERTH_X=value"};
  spec.stdin_data = std::string(200000, 'a');  // beyond a pipe's buffer
  auto out = RunCommand(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->exit_code, 4);
  EXPECT_EQ(out->out, std::string(200000, 'a') + "value\n");
  EXPECT_EQ(out->err, "err\n" + fs::canonical(dir.path()).string() + "\n");
}

TEST(RunCommandTest, KillsACommandThatOutlivesItsBound) {
  CommandSpec spec;
  spec.argv = {"/bin/sleep", "30"};
  spec.timeout = std::chrono::milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  auto out = RunCommand(spec);
  EXPECT_TRUE(out.status().Is(Code::kDeadlineExceeded)) << out.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(RunCommandTest, UnknownProgramIsAnError) {
  CommandSpec spec;
  spec.argv = {"/no/such/program"};
  EXPECT_FALSE(RunCommand(spec).ok());
}

TEST(BundleTest, CreatesContainerdsLayoutAndDeletesIt) {
  ScratchDir dir;
  Bundle b = Bundle::Of(dir.path() + "/root", dir.path() + "/state", "ns1", "task1");
  EXPECT_EQ(b.path, dir.path() + "/state/ns1/task1");
  ASSERT_TRUE(b.Create("{\"ociVersion\":\"1.0.2\"}").ok());
  EXPECT_TRUE(fs::is_directory(b.rootfs()));
  EXPECT_EQ(fs::read_symlink(b.File("work")).string(), b.work);
  EXPECT_TRUE(fs::is_directory(b.work));
  EXPECT_EQ(*b.Read("config.json"), "{\"ociVersion\":\"1.0.2\"}");
  EXPECT_TRUE(b.Create("{}").Is(Code::kAlreadyExists));
  ASSERT_TRUE(b.Write("address", "unix:///run/x.sock\n").ok());
  EXPECT_EQ(*b.Read("address"), "unix:///run/x.sock");
  EXPECT_TRUE(b.Read("missing").status().Is(Code::kNotFound));
  ASSERT_TRUE(b.Delete().ok());
  EXPECT_FALSE(fs::exists(b.path));
  EXPECT_FALSE(fs::exists(b.work));
  EXPECT_TRUE(b.Delete().ok());  // twice is fine
}

TEST(OpenLogFifoTest, AWriterNeverBlocks) {
  ScratchDir dir;
  auto fd = OpenLogFifo(dir.path() + "/log");
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  int writer = open((dir.path() + "/log").c_str(), O_WRONLY | O_NONBLOCK);
  EXPECT_GE(writer, 0);  // a reader is there
  EXPECT_EQ(write(writer, "x\n", 2), 2);
  char buf[4];
  EXPECT_EQ(read(*fd, buf, sizeof buf), 2);
  close(writer);
  close(*fd);
}

}  // namespace
}  // namespace berth::runtime_v2
