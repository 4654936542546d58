#include "server/grpc_server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include "build_info.h"
#include "containerd/services/version/v1/version.grpc.pb.h"
#include "services/version.h"

namespace berth::host {
namespace {

namespace fs = std::filesystem;

class GrpcServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-grpc-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    fs::remove_all(dir_);
  }

  // A unix stream socket bound at `path`; listening when `listen` is set.
  void Bind(const std::string& path, bool listen) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    fds_.push_back(fd);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    if (listen) {
      ASSERT_EQ(::listen(fd, 4), 0);
    }
  }

  std::string dir_;
  std::vector<int> fds_;
};

TEST_F(GrpcServerTest, MissingPathGetsItsFolder) {
  std::string path = dir_ + "/run/sub/berthd.sock";
  ASSERT_TRUE(PrepareSocketPath(path).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/run/sub").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(GrpcServerTest, StaleSocketIsRemoved) {
  std::string path = dir_ + "/stale.sock";
  Bind(path, /*listen=*/false);  // bound, nobody accepts: connect fails
  ASSERT_TRUE(fs::is_socket(path));
  Status s = PrepareSocketPath(path);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(GrpcServerTest, LiveSocketIsInUse) {
  std::string path = dir_ + "/live.sock";
  Bind(path, /*listen=*/true);
  Status s = PrepareSocketPath(path);
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_EQ(s.message(), "address " + path + " is in use");
  EXPECT_TRUE(fs::is_socket(path));
}

TEST_F(GrpcServerTest, NonSocketIsRefused) {
  std::string path = dir_ + "/plain";
  std::ofstream(path) << "x";
  Status s = PrepareSocketPath(path);
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_TRUE(fs::is_regular_file(path));
}

// Calls grpc.health.v1.Health/Check for service "" through a generic stub.
grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                         std::string* response_bytes) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  grpc::ByteBuffer request;  // empty HealthCheckRequest: service ""
  grpc::Slice empty("", 0);
  request = grpc::ByteBuffer(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  std::vector<grpc::Slice> slices;
  if (status.ok() && response.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      response_bytes->append(reinterpret_cast<const char*>(s.begin()),
                             s.size());
    }
  }
  return status;
}

TEST_F(GrpcServerTest, ServesServicesAndHealthThenRemovesSocket) {
  std::string path = dir_ + "/berthd.sock";
  VersionService version;
  GrpcServerOptions options;
  options.address = path;
  options.uid = ::getuid();
  options.gid = ::getgid();
  GrpcServer server(options);
  Status started = server.Start({&version});
  ASSERT_TRUE(started.ok()) << started.ToString();

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  // A second server on the same path is refused, not silently unlinking it.
  GrpcServer second(options);
  EXPECT_EQ(second.Start({}).code(), Code::kFailedPrecondition);

  auto channel =
      grpc::CreateChannel("unix:" + path, grpc::InsecureChannelCredentials());
  auto stub = containerd::services::version::v1::Version::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  google::protobuf::Empty empty;
  containerd::services::version::v1::VersionResponse response;
  grpc::Status status = stub->Version(&context, empty, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.version(), kVersion);
  EXPECT_EQ(response.revision(), "");

  std::string health;
  grpc::Status health_status = HealthCheck(channel, &health);
  ASSERT_TRUE(health_status.ok()) << health_status.error_message();
  EXPECT_EQ(health, std::string("\x08\x01", 2));  // status: SERVING

  server.Stop(std::chrono::seconds(5));
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace berth::host
