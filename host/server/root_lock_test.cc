#include "server/root_lock.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "server/thread_dump.h"

namespace berth::host {
namespace {

TEST(RootLockTest, SecondHolderIsRefusedUntilRelease) {
  char tmpl[] = "/tmp/berth-lock-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  {
    Result<std::unique_ptr<RootLock>> first = RootLock::Acquire(root);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ((*first)->path(), root + "/berthd.lock");

    Result<std::unique_ptr<RootLock>> second = RootLock::Acquire(root);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
    EXPECT_EQ(second.status().message(),
              "another berthd is running with root " + root);
  }
  Result<std::unique_ptr<RootLock>> again = RootLock::Acquire(root);
  EXPECT_TRUE(again.ok());
  again = Status::Unknown("released");
  std::filesystem::remove_all(root);
}

TEST(ThreadDumpTest, ListsTheCallingThread) {
  std::string dump = DumpThreads();
  EXPECT_EQ(dump.rfind("=== BEGIN thread dump ===\n", 0), 0u);
  EXPECT_NE(dump.find("=== END thread dump ==="), std::string::npos);
  std::string self = "thread " + std::to_string(::gettid()) + " (";
  EXPECT_NE(dump.find(self), std::string::npos) << dump;
  EXPECT_NE(dump.find("state=\"R (running)\""), std::string::npos) << dump;
}

}  // namespace
}  // namespace berth::host
