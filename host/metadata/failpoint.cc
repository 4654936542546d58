#include "metadata/failpoint.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "berth/mutex.h"
#include "berth/runner/log.h"

namespace berth::host::failpoint {
namespace {

struct TestHandler {
  Mutex mu;
  std::function<void(std::string_view)> fn BERTH_GUARDED_BY(mu);
};

TestHandler& Handler() {
  static TestHandler* handler = new TestHandler;  // never destroyed
  return *handler;
}

std::atomic<bool> handler_installed{false};

}  // namespace

const std::string& Armed() {
  static const std::string* armed = [] {
    const char* value = std::getenv(kEnvironmentVariable);
    return new std::string(value == nullptr ? "" : value);
  }();
  return *armed;
}

void Hit(std::string_view name) {
  if (handler_installed.load(std::memory_order_acquire)) {
    std::function<void(std::string_view)> fn;
    {
      TestHandler& h = Handler();
      MutexLock lock(&h.mu);
      fn = h.fn;
    }
    if (fn) {
      fn(name);
      return;
    }
  }
  const std::string& armed = Armed();
  if (armed.empty() || armed != name) return;
  log::Error("failpoint reached; exiting as a crash would",
             {{"failpoint", name}, {"exit_code", "137"}});
  ::_exit(137);
}

void SetHandlerForTesting(std::function<void(std::string_view)> handler) {
  TestHandler& h = Handler();
  MutexLock lock(&h.mu);
  handler_installed.store(static_cast<bool>(handler), std::memory_order_release);
  h.fn = std::move(handler);
}

}  // namespace berth::host::failpoint
