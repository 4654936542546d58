#include "berth/runner/loader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "berth/entry.h"
#include "berth/init_context.h"
#include "test_util.h"

namespace berth::runner {
namespace {

namespace fs = std::filesystem;
using ::berth::runner::testing::FixturePath;
using ::berth::runner::testing::LogCapture;
using ::berth::runner::testing::TempDir;
using ::testing::HasSubstr;

std::vector<std::string> Uris(const std::vector<SourcedRegistration>& regs) {
  std::vector<std::string> uris;
  for (const auto& r : regs) uris.push_back(r.registration.uri());
  return uris;
}

class LoaderTest : public ::testing::Test {
 protected:
  // Loads one broken fixture and expects exactly one failure at `stage`.
  LibraryFailure ExpectFailure(const std::string& rel, const std::string& stage) {
    const std::string path = FixturePath(rel);
    Status s = loader_.LoadFile(path, out_);
    EXPECT_FALSE(s.ok());
    EXPECT_TRUE(out_.empty());
    EXPECT_EQ(loader_.failures().size(), 1u);
    if (loader_.failures().empty()) return {};
    const LibraryFailure& f = loader_.failures()[0];
    EXPECT_EQ(f.stage, stage);
    EXPECT_EQ(f.path, path);
    EXPECT_THAT(f.status.message(), HasSubstr(path + ": " + stage + ": "));
    EXPECT_EQ(s.message(), f.status.message());
    return f;
  }

  PluginLoader loader_;
  std::vector<SourcedRegistration> out_;
};

TEST_F(LoaderTest, NotALibraryFailsAtOpenWithLoaderMessage) {
  LibraryFailure f = ExpectFailure("broken/not-a-library.so", "open");
  EXPECT_THAT(f.status.message(), HasSubstr("invalid ELF header"));
  EXPECT_EQ(f.uri(), "io.berth.library.v1.not-a-library");
}

TEST_F(LoaderTest, NoEntryPoint) {
  LibraryFailure f = ExpectFailure("broken/no-entry-point.so", "entry point");
  EXPECT_THAT(f.status.message(), HasSubstr("berth_plugin_descriptor"));
}

TEST_F(LoaderTest, BadMagic) {
  LibraryFailure f = ExpectFailure("broken/bad-magic.so", "magic");
  EXPECT_THAT(f.status.message(), HasSubstr("bad magic 0x0123456789abcdef"));
}

TEST_F(LoaderTest, AbiMajorMismatch) {
  LibraryFailure f = ExpectFailure("broken/abi-major.so", "abi version");
  EXPECT_THAT(f.status.message(), HasSubstr("built against SDK ABI 3.0, host has 2.0"));
}

TEST_F(LoaderTest, CompilerAbiMismatch) {
  LibraryFailure f = ExpectFailure("broken/compiler-abi.so", "compiler abi");
  EXPECT_THAT(f.status.message(),
              HasSubstr("host has gxx " + std::to_string(kGxxAbiVersion)));
}

TEST_F(LoaderTest, RegisterThrows) {
  LibraryFailure f = ExpectFailure("broken/register-throws.so", "register");
  EXPECT_THAT(f.status.message(), HasSubstr("boom from register"));
}

TEST_F(LoaderTest, DuplicateUriIsRefusedAtRegister) {
  ASSERT_TRUE(loader_.LoadFile(FixturePath("broken/dup-a.so"), out_).ok());
  Status s = loader_.LoadFile(FixturePath("broken/dup-b.so"), out_);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(Uris(out_), (std::vector<std::string>{"io.containerd.internal.v1.dup",
                                                  "io.containerd.internal.v1.dup-b-extra"}));
  ASSERT_EQ(loader_.failures().size(), 1u);
  EXPECT_EQ(loader_.failures()[0].stage, "register");
  EXPECT_THAT(loader_.failures()[0].status.message(),
              HasSubstr("io.containerd.internal.v1.dup: plugin id already registered"));
  EXPECT_EQ(out_[0].library, FixturePath("broken/dup-a.so"));
}

TEST_F(LoaderTest, InitFailuresStillRegister) {
  for (const char* f : {"broken/init-throws.so", "broken/init-skips.so",
                        "broken/missing-requirement.so"}) {
    EXPECT_TRUE(loader_.LoadFile(FixturePath(f), out_).ok()) << f;
  }
  EXPECT_TRUE(loader_.failures().empty());
  EXPECT_EQ(Uris(out_),
            (std::vector<std::string>{"io.containerd.internal.v1.init-throws",
                                      "io.containerd.internal.v1.init-skips",
                                      "io.containerd.internal.v1.needs-missing"}));
  EXPECT_EQ(out_[2].registration.required_types,
            (std::vector<std::string>{"io.berth.test.absent.v1"}));
}

TEST_F(LoaderTest, HelloLoadsAndRegisters) {
  ASSERT_TRUE(loader_.LoadFile(FixturePath("good/hello.so"), out_).ok());
  ASSERT_EQ(out_.size(), 1u);
  const Registration& r = out_[0].registration;
  EXPECT_EQ(r.uri(), "io.containerd.internal.v1.hello");
  EXPECT_EQ(out_[0].library, FixturePath("good/hello.so"));
  ASSERT_TRUE(r.config);
  EXPECT_NE(r.config(), nullptr);
  EXPECT_TRUE(r.init);
  EXPECT_TRUE(loader_.failures().empty());
}

TEST_F(LoaderTest, DirectoryLoadsInNameOrderAndRecordsEachStage) {
  TempDir tmp;
  ASSERT_TRUE(tmp.ok());
  LogCapture capture(tmp);
  ASSERT_TRUE(capture.ok());
  loader_.LoadDirectory(FixturePath("broken"), out_);
  std::vector<std::string> stages;
  for (const auto& f : loader_.failures()) {
    stages.push_back(fs::path(f.path).filename().string() + ":" + f.stage);
  }
  EXPECT_EQ(stages, (std::vector<std::string>{
                        "abi-major.so:abi version", "bad-magic.so:magic",
                        "compiler-abi.so:compiler abi", "dup-b.so:register",
                        "no-entry-point.so:entry point", "not-a-library.so:open",
                        "register-throws.so:register"}));
  EXPECT_EQ(Uris(out_),
            (std::vector<std::string>{"io.containerd.internal.v1.dup",
                                      "io.containerd.internal.v1.dup-b-extra",
                                      "io.containerd.internal.v1.init-skips",
                                      "io.containerd.internal.v1.init-throws",
                                      "io.containerd.internal.v1.needs-missing"}));
  const std::string text = capture.Text();
  EXPECT_THAT(text, HasSubstr("level=error msg=\"failed to load plugin library\" path=" +
                              FixturePath("broken/bad-magic.so") + " stage=magic"));
}

TEST_F(LoaderTest, MissingDirectoryIsNoPlugins) {
  loader_.LoadDirectory("/nonexistent/berth/plugins", out_);
  EXPECT_TRUE(out_.empty());
  EXPECT_TRUE(loader_.failures().empty());
}

TEST_F(LoaderTest, WritableFileIsRefused) {
  TempDir tmp;
  ASSERT_TRUE(tmp.ok());
  const std::string copy = tmp.path() + "/hello.so";
  fs::copy_file(FixturePath("good/hello.so"), copy);
  ASSERT_EQ(::chmod(copy.c_str(), 0666), 0);
  EXPECT_FALSE(loader_.LoadFile(copy, out_).ok());
  ASSERT_EQ(loader_.failures().size(), 1u);
  EXPECT_EQ(loader_.failures()[0].stage, "permissions");
  EXPECT_THAT(loader_.failures()[0].status.message(),
              HasSubstr("group- or world-writable (mode 0666)"));
  EXPECT_TRUE(out_.empty());

  ASSERT_EQ(::chmod(copy.c_str(), 0644), 0);
  EXPECT_TRUE(loader_.LoadFile(copy, out_).ok());
  EXPECT_EQ(Uris(out_), (std::vector<std::string>{"io.containerd.internal.v1.hello"}));
}

TEST_F(LoaderTest, ForeignOwnerIsRefused) {
  TempDir tmp;
  ASSERT_TRUE(tmp.ok());
  const std::string copy = tmp.path() + "/hello.so";
  fs::copy_file(FixturePath("good/hello.so"), copy);
  const uid_t other = geteuid() == 0 ? 4242 : 0;
  if (::chown(copy.c_str(), other, static_cast<gid_t>(-1)) != 0) {
    GTEST_SKIP() << "cannot chown without root";
  }
  EXPECT_FALSE(loader_.LoadFile(copy, out_).ok());
  ASSERT_EQ(loader_.failures().size(), 1u);
  EXPECT_EQ(loader_.failures()[0].stage, "permissions");
  EXPECT_THAT(loader_.failures()[0].status.message(), HasSubstr("owned by uid"));
}

TEST_F(LoaderTest, WritableFolderIsOneFailure) {
  TempDir tmp;
  ASSERT_TRUE(tmp.ok());
  const std::string dir = tmp.path() + "/plugins";
  ASSERT_TRUE(fs::create_directory(dir));
  fs::copy_file(FixturePath("good/hello.so"), dir + "/hello.so");
  fs::copy_file(FixturePath("broken/dup-a.so"), dir + "/dup-a.so");
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  loader_.LoadDirectory(dir, out_);
  EXPECT_TRUE(out_.empty());
  ASSERT_EQ(loader_.failures().size(), 1u);
  EXPECT_EQ(loader_.failures()[0].path, dir);
  EXPECT_EQ(loader_.failures()[0].stage, "permissions");
  EXPECT_THAT(loader_.failures()[0].status.message(), HasSubstr("mode 0777"));
}

TEST_F(LoaderTest, SymlinkToUnsafeFileIsRefused) {
  TempDir tmp;
  ASSERT_TRUE(tmp.ok());
  const std::string unsafe_dir = tmp.path() + "/elsewhere";
  const std::string plugins = tmp.path() + "/plugins";
  ASSERT_TRUE(fs::create_directory(unsafe_dir));
  ASSERT_TRUE(fs::create_directory(plugins));
  const std::string target = unsafe_dir + "/hello.so";
  fs::copy_file(FixturePath("good/hello.so"), target);
  ASSERT_EQ(::chmod(target.c_str(), 0646), 0);
  fs::create_symlink(target, plugins + "/hello.so");
  loader_.LoadDirectory(plugins, out_);
  EXPECT_TRUE(out_.empty());
  ASSERT_EQ(loader_.failures().size(), 1u);
  EXPECT_EQ(loader_.failures()[0].stage, "permissions");
  EXPECT_THAT(loader_.failures()[0].status.message(), HasSubstr(target));

  // The same link to a safe file loads.
  ASSERT_EQ(::chmod(target.c_str(), 0644), 0);
  loader_.LoadDirectory(plugins, out_);
  EXPECT_EQ(Uris(out_), (std::vector<std::string>{"io.containerd.internal.v1.hello"}));
}

Registration Valid() {
  Registration r;
  r.type = "io.containerd.internal.v1";
  r.id = "x";
  r.init = [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
    return std::shared_ptr<Plugin>();
  };
  return r;
}

TEST(LoaderValidateTest, AcceptsValid) {
  EXPECT_TRUE(ValidateRegistration(Valid()).ok());
  Registration star = Valid();
  star.required_types = {"*"};
  EXPECT_TRUE(ValidateRegistration(star).ok());
}

TEST(LoaderValidateTest, RejectsEachFault) {
  Registration r = Valid();
  r.type = "";
  EXPECT_THAT(ValidateRegistration(r).message(), HasSubstr("no type"));
  r = Valid();
  r.id = "";
  EXPECT_THAT(ValidateRegistration(r).message(), HasSubstr("no id"));
  r = Valid();
  r.id = "has space";
  EXPECT_THAT(ValidateRegistration(r).message(), HasSubstr("whitespace"));
  r = Valid();
  r.required_types = {"*", "io.containerd.content.v1"};
  EXPECT_THAT(ValidateRegistration(r).message(), HasSubstr("invalid requires"));
  r = Valid();
  r.init = nullptr;
  EXPECT_THAT(ValidateRegistration(r).message(), HasSubstr("no init function"));
  EXPECT_EQ(ValidateRegistration(r).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace berth::runner
