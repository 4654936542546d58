// Whole images through a real berthd, driven by the stock ctr's image
// clients: `ctr images import` of the busybox image scripts/busybox-image.sh
// builds (an OCI layout and a `docker save` archive) unpacked onto overlayfs,
// `ctr images mount`/`unmount`, `ctr images export` giving back the same
// blobs, tag, label, rm and the collection that follows; and, against
// Debian's docker-registry on 127.0.0.1, `ctr images pull --plain-http` of an
// image skopeo pushed and `ctr images push` of it under a new tag.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "berth/digest.h"
#include "berthd_process.h"
#include "btrfs_loop.h"
#include "run_command.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

namespace fs = std::filesystem;

// Collections run only when a test asks (`rm --sync`, `unmount --rm`).
constexpr char kNoSchedulerConfig[] = "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n";
constexpr char kImageName[] = "docker.io/library/busybox:latest";
constexpr char kOciManifestType[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kDockerManifestType[] = "application/vnd.docker.distribution.manifest.v2+json";

std::string ImageScript() { return std::string(BERTH_SOURCE_DIR) + "/scripts/busybox-image.sh"; }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  for (std::string f; in >> f;) fields.push_back(f);
  return fields;
}

// The first `"key":"value"` string value in `json` ("" if none); enough for
// the script's one-manifest index.json and skopeo's pretty-printed output.
std::string JsonString(const std::string& json, const std::string& key) {
  std::size_t at = json.find("\"" + key + "\"");
  if (at == std::string::npos) return "";
  at = json.find('"', json.find(':', at) + 1);
  if (at == std::string::npos) return "";
  const std::size_t end = json.find('"', at + 1);
  return end == std::string::npos ? "" : json.substr(at + 1, end - at - 1);
}

// The mount points at exactly `path` in /proc/self/mountinfo, one line each.
std::vector<std::string> MountInfoAt(const std::string& path) {
  std::vector<std::string> found;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string> f = Fields(line);
    if (f.size() > 4 && f[4] == path) found.push_back(line);
  }
  return found;
}

// A port on 127.0.0.1 that was free a moment ago, or 0.
int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// The status code of `GET path` on 127.0.0.1:port (HTTP/1.0, one second per
// step), or -1 when nothing answers.
int HttpGetStatus(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  int status = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      std::string reply;
      char buf[512];
      for (ssize_t n;
           reply.find("\r\n") == std::string::npos && (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) {
        reply.append(buf, static_cast<std::size_t>(n));
      }
      // "HTTP/1.1 200 OK"
      if (reply.rfind("HTTP/", 0) == 0 && reply.size() > 12) {
        status = std::atoi(reply.substr(9, 3).c_str());
      }
    }
  }
  ::close(fd);
  return status;
}

// Whether `tool` runs (exit 127 is an exec failure: not installed).
bool Installed(const std::string& tool) {
  return RunCommand({tool, "--version"}, "", std::chrono::seconds(30)).exit_code != 127;
}

// Every regular file under `dir`/blobs/sha256, by "sha256:<name>".
std::map<std::string, std::string> BlobsUnder(const std::string& dir) {
  std::map<std::string, std::string> blobs;
  const fs::path root = fs::path(dir) / "blobs" / "sha256";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_regular_file()) {
      blobs["sha256:" + entry.path().filename().string()] = ReadFile(entry.path().string());
    }
  }
  return blobs;
}

class ImageClientsTest : public ::testing::Test {
 protected:
  ImageClientsTest() : berthd_(BerthdOptions{"", kNoSchedulerConfig, {}, {}}) {}
  void SetUp() override {
    ASSERT_TRUE(berthd_.Start());
    ASSERT_TRUE(berthd_.WaitServing());
  }
  void TearDown() override {
    // `ctr images mount` mounts in this mount namespace; a failed test may
    // leave one under the work folder, which TempDir will not cross.
    EXPECT_TRUE(DetachMountsUnder(work_.path())) << "mounts remain under " << work_.path();
  }

  // Runs a command that must succeed; returns its stdout.
  std::string Ok(const CommandResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
    return r.out;
  }
  std::string Ctr(const std::vector<std::string>& args) { return Ok(berthd_.Ctr(args)); }

  // scripts/busybox-image.sh --format FORMAT --name NAME into the work folder;
  // the tarball's path, or "" (with a failure) when the script fails.
  std::string BuildImage(const std::string& format, const std::string& name = kImageName) {
    const std::string out = work_.Join("busybox-" + format + ".tar");
    CommandResult r = RunCommand({ImageScript(), "--format", format, "--name", name, out}, "",
                                 std::chrono::seconds(120));
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return r.exit_code == 0 ? out : "";
  }
  // tar -xf TARBALL into a fresh folder `name` of the work folder; its path.
  std::string Extract(const std::string& tarball, const std::string& name) {
    const std::string dir = work_.Join(name);
    fs::create_directories(dir);
    Ok(RunCommand({"tar", "-xf", tarball, "-C", dir}));
    return dir;
  }
  // `ctr snapshots ls` rows after the header, as fields.
  std::vector<std::vector<std::string>> SnapshotRows(const std::string& ns = "default") {
    std::vector<std::vector<std::string>> rows;
    const std::vector<std::string> lines = Lines(Ctr({"-n", ns, "snapshots", "ls"}));
    for (std::size_t i = 1; i < lines.size(); ++i) rows.push_back(Fields(lines[i]));
    return rows;
  }
  // Asserts that `ctr images check` says NAME is complete and unpacked.
  void ExpectCompleteAndUnpacked(const std::string& name, const std::string& ns = "default") {
    const std::vector<std::string> lines =
        Lines(Ctr({"-n", ns, "images", "check", "name==" + name}));
    ASSERT_EQ(lines.size(), 2u) << "a header and " << name;
    const std::vector<std::string> f = Fields(lines[1]);
    ASSERT_GE(f.size(), 6u) << lines[1];
    EXPECT_EQ(f[0], name);
    EXPECT_EQ(f[3], "complete") << lines[1];
    EXPECT_EQ(f.back(), "true") << "UNPACKED: " << lines[1];
  }

  TempDir work_;
  BerthdProcess berthd_;
};

TEST_F(ImageClientsTest, ImportOciLayoutUnpacksAndMounts) {
  const std::string tarball = BuildImage("oci");
  ASSERT_FALSE(tarball.empty());
  const std::string layout = Extract(tarball, "layout");
  const std::string index = ReadFile(layout + "/index.json");
  const std::string manifest_digest = JsonString(index, "digest");
  const std::string manifest = ReadFile(layout + "/blobs/sha256/" + manifest_digest.substr(7));
  ASSERT_FALSE(manifest.empty()) << index;
  // The manifest's second digest is its only layer's (the config's is first).
  const std::size_t layers = manifest.find("\"layers\"");
  ASSERT_NE(layers, std::string::npos) << manifest;
  const std::string layer_digest = JsonString(manifest.substr(layers), "digest");
  // One layer: its chain id is its diff id, the digest of the tar inside.
  CommandResult gunzip =
      RunCommand({"gzip", "-dc", layout + "/blobs/sha256/" + layer_digest.substr(7)});
  ASSERT_EQ(gunzip.exit_code, 0) << gunzip.Describe();
  const std::string chain_id = Sha256Of(gunzip.out);

  EXPECT_TRUE(Contains(Ctr({"images", "import", tarball}), "unpacking " + std::string(kImageName)));
  EXPECT_EQ(Ctr({"images", "ls", "-q"}), std::string(kImageName) + "\n");
  const std::string ls = Ctr({"images", "ls"});
  EXPECT_TRUE(Contains(ls, manifest_digest));
  EXPECT_TRUE(Contains(ls, kOciManifestType));
  ExpectCompleteAndUnpacked(kImageName);

  std::vector<std::vector<std::string>> snapshots = SnapshotRows();
  ASSERT_EQ(snapshots.size(), 1u) << Ctr({"snapshots", "ls"});
  EXPECT_EQ(snapshots[0], (std::vector<std::string>{chain_id, "Committed"}))
      << "the key is the chain id, with no parent";

  // A read-only view of the image under a lease, mounted by ctr itself.
  const std::string target = work_.Join("mnt");
  fs::create_directories(target);
  CommandResult mount = berthd_.Ctr({"images", "mount", kImageName, target});
  ASSERT_EQ(mount.exit_code, 0) << mount.Describe() << "\n" << berthd_.Log();
  EXPECT_TRUE(Contains(mount.out, chain_id));
  const std::vector<std::string> mounted = MountInfoAt(target);
  ASSERT_EQ(mounted.size(), 1u) << "one mount on " << target;
  const std::vector<std::string> mount_fields = Fields(mounted[0]);
  EXPECT_EQ(mount_fields[5].rfind("ro", 0), 0u) << "a view mounts read-only: " << mounted[0];
  struct stat st {};
  ASSERT_EQ(::lstat((target + "/bin/busybox").c_str(), &st), 0)
      << "no " << target << "/bin/busybox";
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_NE(st.st_mode & 0111, 0u) << "busybox is executable";
  EXPECT_TRUE(ReadFile(target + "/bin/busybox") == ReadFile("/bin/busybox"));
  ASSERT_EQ(::lstat((target + "/bin/sh").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "applets are links to busybox";
  EXPECT_TRUE(Contains(Ctr({"leases", "ls", "-q"}), target)) << "the view is held by a lease";
  snapshots = SnapshotRows();
  ASSERT_EQ(snapshots.size(), 2u) << Ctr({"snapshots", "ls"});
  const std::vector<std::string> view = {target, chain_id, "View"};
  EXPECT_TRUE(snapshots[0] == view || snapshots[1] == view) << Ctr({"snapshots", "ls"});

  EXPECT_EQ(Ctr({"images", "unmount", "--rm", target}), target + "\n");
  EXPECT_TRUE(MountInfoAt(target).empty()) << target << " is still mounted";
  EXPECT_FALSE(fs::exists(target + "/bin/busybox"));
  EXPECT_EQ(Ctr({"leases", "ls", "-q"}), "");
  snapshots = SnapshotRows();
  ASSERT_EQ(snapshots.size(), 1u) << "the view went: " << Ctr({"snapshots", "ls"});
  EXPECT_EQ(snapshots[0][0], chain_id);
}

TEST_F(ImageClientsTest, ImportDockerSaveArchiveUnpacks) {
  const std::string name = "docker.io/library/busybox:docker";
  const std::string tarball = BuildImage("docker", name);
  ASSERT_FALSE(tarball.empty());
  const std::string archive = Extract(tarball, "archive");
  // manifest.json: [{"Config":..., "RepoTags":[...], "Layers":["<diff id>/layer.tar"]}]
  const std::string docker_manifest = ReadFile(archive + "/manifest.json");
  const std::size_t layers = docker_manifest.find("\"Layers\"");
  ASSERT_NE(layers, std::string::npos) << docker_manifest;
  const std::size_t open = docker_manifest.find('"', docker_manifest.find('[', layers));
  const std::string layer_path =
      docker_manifest.substr(open + 1, docker_manifest.find('"', open + 1) - open - 1);
  const std::string chain_id = Sha256Of(ReadFile(archive + "/" + layer_path));

  EXPECT_TRUE(Contains(Ctr({"images", "import", tarball}), "unpacking " + name));
  EXPECT_EQ(Ctr({"images", "ls", "-q"}), name + "\n");
  EXPECT_TRUE(Contains(Ctr({"images", "ls"}), kDockerManifestType))
      << "ctr converts the archive to a docker schema 2 manifest";
  ExpectCompleteAndUnpacked(name);
  const std::vector<std::vector<std::string>> snapshots = SnapshotRows();
  ASSERT_EQ(snapshots.size(), 1u) << Ctr({"snapshots", "ls"});
  EXPECT_EQ(snapshots[0], (std::vector<std::string>{chain_id, "Committed"}));
}

TEST_F(ImageClientsTest, ExportGivesBackTheImportedBlobs) {
  const std::string tarball = BuildImage("oci");
  ASSERT_FALSE(tarball.empty());
  Ctr({"images", "import", tarball});
  const std::string exported = work_.Join("out.tar");
  Ctr({"images", "export", exported, kImageName});

  const std::map<std::string, std::string> imported = BlobsUnder(Extract(tarball, "in"));
  const std::string out_dir = Extract(exported, "out");
  const std::map<std::string, std::string> blobs = BlobsUnder(out_dir);
  ASSERT_EQ(imported.size(), 3u) << "a manifest, a config and a layer";
  for (const auto& [digest, data] : imported) {
    auto it = blobs.find(digest);
    ASSERT_NE(it, blobs.end()) << digest << " is not in the export";
    EXPECT_EQ(Sha256Of(it->second), digest);
    EXPECT_TRUE(it->second == data)
        << digest << " differs (" << it->second.size() << " vs " << data.size() << " bytes)";
  }
  for (const auto& [digest, data] : blobs) {
    EXPECT_TRUE(imported.count(digest)) << "the export adds " << digest;
  }
  const std::string index = ReadFile(out_dir + "/index.json");
  EXPECT_TRUE(Contains(index, JsonString(ReadFile(work_.Join("in/index.json")), "digest")));
  EXPECT_TRUE(Contains(index, kImageName));
  EXPECT_TRUE(fs::exists(out_dir + "/oci-layout"));
}

TEST_F(ImageClientsTest, TagLabelRemoveThenCollected) {
  const std::string tarball = BuildImage("oci");
  ASSERT_FALSE(tarball.empty());
  Ctr({"images", "import", tarball});
  ASSERT_EQ(SnapshotRows().size(), 1u);
  // The layout's three blobs, and the index ctr's importer writes of its own.
  const std::string content = Ctr({"content", "ls", "-q"});
  for (const auto& [digest, data] : BlobsUnder(Extract(tarball, "in"))) {
    EXPECT_TRUE(Contains(content, digest));
  }

  EXPECT_EQ(Ctr({"images", "tag", kImageName, "example.com/busybox:2"}), "example.com/busybox:2\n");
  EXPECT_EQ(Ctr({"images", "label", "example.com/busybox:2", "team=blue"}), "team=blue\n");
  const std::vector<std::string> rows = Lines(Ctr({"images", "ls"}));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_TRUE(Contains(rows[1], kImageName));
  EXPECT_FALSE(Contains(rows[1], "team=blue"));
  EXPECT_TRUE(Contains(rows[2], "example.com/busybox:2"));
  EXPECT_TRUE(Contains(rows[2], "team=blue"));
  EXPECT_EQ(Ctr({"images", "ls", "-q", "labels.team==blue"}), "example.com/busybox:2\n");
  EXPECT_TRUE(Contains(Ctr({"images", "check", "name==example.com/busybox:2"}), "complete"));

  // A plain remove leaves everything to a collection: the tag still holds it.
  EXPECT_EQ(Ctr({"images", "rm", kImageName}), std::string(kImageName) + "\n");
  EXPECT_EQ(Ctr({"content", "ls", "-q"}), content);
  EXPECT_EQ(SnapshotRows().size(), 1u);
  EXPECT_EQ(Ctr({"images", "rm", "--sync", "example.com/busybox:2"}), "example.com/busybox:2\n");
  EXPECT_EQ(Ctr({"images", "ls", "-q"}), "");
  EXPECT_EQ(Ctr({"content", "ls", "-q"}), "") << "the sync remove collected the blobs";
  EXPECT_TRUE(SnapshotRows().empty()) << Ctr({"snapshots", "ls"});
}

// Debian's docker-registry on 127.0.0.1, storing under a folder of its own.
// The destructor kills and reaps it.
class LocalRegistry {
 public:
  LocalRegistry() = default;
  ~LocalRegistry() { Stop(); }
  LocalRegistry(const LocalRegistry&) = delete;
  LocalRegistry& operator=(const LocalRegistry&) = delete;

  // Starts it on a free port and waits (bounded) until GET /v2/ answers 200;
  // a port taken in between costs another try.
  ::testing::AssertionResult Start() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = FreeLoopbackPort();
      if (port_ == 0) return ::testing::AssertionFailure() << "no free port";
      const std::string config = dir_.Join("config.yml");
      WriteFile(config,
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n"
                "    rootdirectory: " +
                    dir_.Join("storage") +
                    "\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:" +
                    std::to_string(port_) + "\n");
      const int log_fd =
          ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      pid_ = SpawnProcess({"docker-registry", "serve", config}, null_fd, log_fd, log_fd);
      ::close(log_fd);
      ::close(null_fd);
      if (pid_ < 0) return ::testing::AssertionFailure() << "fork failed";
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (std::chrono::steady_clock::now() < deadline) {
        if (WaitForExit(pid_, std::chrono::milliseconds(0)).has_value()) {
          pid_ = -1;
          break;  // exited, most likely on a taken port: try another
        }
        if (HttpGetStatus(port_, "/v2/") == 200) return ::testing::AssertionSuccess();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      Stop();
    }
    return ::testing::AssertionFailure() << "docker-registry did not serve:\n" << Log();
  }
  void Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      WaitForExit(pid_, std::chrono::seconds(10));
      pid_ = -1;
    }
  }
  // "127.0.0.1:PORT"
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Log() const { return ReadFile(log_path()); }

 private:
  std::string log_path() const { return dir_.Join("registry.log"); }

  TempDir dir_{"berth-registry-"};
  int port_ = 0;
  pid_t pid_ = -1;
};

class ImageClientsRegistryTest : public ImageClientsTest {
 protected:
  void SetUp() override {
    if (!Installed("docker-registry")) GTEST_SKIP() << "docker-registry is not installed";
    if (!Installed("skopeo")) GTEST_SKIP() << "skopeo is not installed";
    ImageClientsTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(registry_.Start());
  }
  void TearDown() override {
    registry_.Stop();
    ImageClientsTest::TearDown();
  }

  // `skopeo ARGS...` with no signature policy file needed; must succeed.
  std::string Skopeo(std::vector<std::string> args) {
    args.insert(args.begin(), {"skopeo", "--insecure-policy"});
    CommandResult r = RunCommand(args, "", std::chrono::seconds(120));
    EXPECT_EQ(r.exit_code, 0) << r.Describe() << "\nregistry:\n" << registry_.Log();
    return r.out;
  }
  std::string RemoteDigest(const std::string& ref) {
    return JsonString(Skopeo({"inspect", "--tls-verify=false", "docker://" + ref}), "Digest");
  }

  LocalRegistry registry_;
};

TEST_F(ImageClientsRegistryTest, PullsWhatSkopeoPushedAndPushesItBack) {
  const std::string tarball = BuildImage("oci");
  ASSERT_FALSE(tarball.empty());
  const std::string ref = registry_.host() + "/busybox:1";
  const std::string copy = registry_.host() + "/busybox:copy";
  // The archive's index holds one manifest, so skopeo needs no reference.
  Skopeo({"copy", "--dest-tls-verify=false", "oci-archive:" + tarball, "docker://" + ref});
  const std::string digest = RemoteDigest(ref);
  ASSERT_EQ(digest.rfind("sha256:", 0), 0u) << "skopeo inspect " << ref;

  const std::string ns = "registry";
  CommandResult pull = berthd_.Ctr({"-n", ns, "images", "pull", "--plain-http", ref});
  ASSERT_EQ(pull.exit_code, 0) << pull.Describe() << "\n"
                               << berthd_.Log() << "\nregistry:\n"
                               << registry_.Log();
  EXPECT_EQ(Ctr({"-n", ns, "images", "ls", "-q"}), ref + "\n");
  EXPECT_TRUE(Contains(Ctr({"-n", ns, "images", "ls"}), digest));
  ExpectCompleteAndUnpacked(ref, ns);
  EXPECT_EQ(SnapshotRows(ns).size(), 1u);
  EXPECT_EQ(Ctr({"images", "ls", "-q"}), "") << "nothing went to the default namespace";

  EXPECT_EQ(Ctr({"-n", ns, "images", "tag", ref, copy}), copy + "\n");
  CommandResult push = berthd_.Ctr({"-n", ns, "images", "push", "--plain-http", copy, ref});
  ASSERT_EQ(push.exit_code, 0) << push.Describe() << "\n"
                               << berthd_.Log() << "\nregistry:\n"
                               << registry_.Log();
  EXPECT_EQ(RemoteDigest(copy), digest) << "the pushed manifest is the pulled one";
}

}  // namespace
}  // namespace berth::test
