// A Server on its own io thread with the "test.Echo" service the tests call:
//   Echo    answers its payload
//   Fail    answers NotFound("thing <payload>")
//   Context answers "ns=<ns>;lease=<lease>;deadline=<ms left or none>;multi=<values of 'multi'>"
//   Hold    (async) keeps its Responder until the test answers it
#ifndef BERTH_SDK_SRC_TTRPC_ECHO_SERVER_H_
#define BERTH_SDK_SRC_TTRPC_ECHO_SERVER_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "berth/ttrpc/server.h"
#include "test_util.h"

namespace berth::ttrpc::testing {

class EchoServer {
 public:
  explicit EchoServer(ServerOptions options = {}) : path_(dir_.Sub("ttrpc.sock")) {
    server_ = std::make_unique<Server>(io_.io(), options);
    EXPECT_TRUE(server_
                    ->Register("test.Echo", "Echo",
                               [](const Context&, std::string_view p) -> Result<std::string> {
                                 return std::string(p);
                               })
                    .ok());
    EXPECT_TRUE(server_
                    ->Register("test.Echo", "Fail",
                               [](const Context&, std::string_view p) -> Result<std::string> {
                                 return Status::NotFound("thing " + std::string(p));
                               })
                    .ok());
    EXPECT_TRUE(server_
                    ->Register("test.Echo", "Context",
                               [](const Context& c, std::string_view) -> Result<std::string> {
                                 std::string multi;
                                 auto [b, e] = c.metadata.equal_range("multi");
                                 for (auto it = b; it != e; ++it) {
                                   multi += (multi.empty() ? "" : ",") + it->second;
                                 }
                                 std::string deadline = "none";
                                 if (c.deadline) {
                                   deadline = std::to_string(
                                       std::chrono::duration_cast<std::chrono::milliseconds>(
                                           *c.deadline - std::chrono::steady_clock::now())
                                           .count());
                                 }
                                 return "ns=" + c.ns +
                                        ";lease=" + CallContextFromMetadata(c.metadata).lease +
                                        ";deadline=" + deadline + ";multi=" + multi;
                               })
                    .ok());
    EXPECT_TRUE(server_
                    ->RegisterAsync("test.Echo", "Hold",
                                    [this](const Context&, std::string p, Responder r) {
                                      held_.Run([&] {
                                        held_calls_.emplace_back(std::move(p), std::move(r));
                                      });
                                    })
                    .ok());
  }
  ~EchoServer() { server_.reset(); }

  [[nodiscard]] Status Listen() { return server_->Listen(path_); }
  Server& server() { return *server_; }
  boost::asio::io_context& io() { return io_.io(); }
  const std::string& path() const { return path_; }
  const TempDir& dir() const { return dir_; }

  // Waits until `n` Hold calls are held; false after the bound.
  bool WaitHeld(std::size_t n) {
    return held_.WaitFor([&] { return held_calls_.size() >= n; });
  }
  // The held calls, taken away from the server fixture.
  std::vector<std::pair<std::string, Responder>> TakeHeld() {
    std::vector<std::pair<std::string, Responder>> out;
    held_.Run([&] { out.swap(held_calls_); });
    return out;
  }

 private:
  TempDir dir_;
  std::string path_;
  IoThread io_;
  std::unique_ptr<Server> server_;
  Notifier held_;
  std::vector<std::pair<std::string, Responder>> held_calls_;
};

}  // namespace berth::ttrpc::testing

#endif  // BERTH_SDK_SRC_TTRPC_ECHO_SERVER_H_
