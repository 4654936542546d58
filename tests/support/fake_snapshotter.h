// FakeSnapshotter: a berth::Snapshotter whose every call runs a hook the test
// sets (default: NotFound naming the call), and that records, per call, the
// CallContext it ran under (berth/call_context.h). For tests of whatever
// stands between a client and a snapshotter: servers, resolvers, proxies.
// Thread-safe: hooks may run on any thread; set them before the calls.
#ifndef BERTH_TESTS_FAKES_FAKE_SNAPSHOTTER_H_
#define BERTH_TESTS_FAKES_FAKE_SNAPSHOTTER_H_

#include <functional>
#include <string>
#include <vector>

#include "berth/call_context.h"
#include "berth/locality.h"
#include "berth/mutex.h"
#include "berth/snapshotter.h"

namespace berth::fakes {

class FakeSnapshotter final : public Snapshotter, public RemoteBackend {
 public:
  // Whether it poses as a backend in another process (berth/locality.h).
  bool remote = false;
  bool CallsAnotherProcess() const override { return remote; }

  struct Call {
    std::string method;  // "Stat", "Prepare", ...
    std::string key;
    CallContext context;  // CurrentCall() when it ran
  };

  std::function<Result<snapshots::Info>(const std::string& key)> on_stat;
  std::function<Result<std::vector<Mount>>(const std::string& key, const std::string& parent)>
      on_prepare;
  std::function<Result<std::vector<Mount>>(const std::string& key)> on_mounts;
  std::function<Status(const std::string& name, const std::string& key)> on_commit;
  std::function<Status(const std::string& key)> on_remove;
  std::vector<snapshots::Info> walk;  // what Walk reports

  Result<snapshots::Info> Stat(const std::string& key) override {
    Record("Stat", key);
    return on_stat ? on_stat(key) : Missing("Stat");
  }
  Result<snapshots::Info> Update(const snapshots::Info& info,
                                 const std::vector<std::string>&) override {
    Record("Update", info.name);
    return Missing("Update");
  }
  Result<snapshots::Usage> Usage(const std::string& key) override {
    Record("Usage", key);
    return Missing("Usage");
  }
  Result<std::vector<Mount>> Mounts(const std::string& key) override {
    Record("Mounts", key);
    return on_mounts ? on_mounts(key) : Missing("Mounts");
  }
  Result<std::vector<Mount>> Prepare(const std::string& key, const std::string& parent,
                                     const snapshots::Labels&) override {
    Record("Prepare", key);
    return on_prepare ? on_prepare(key, parent) : Missing("Prepare");
  }
  Result<std::vector<Mount>> View(const std::string& key, const std::string&,
                                  const snapshots::Labels&) override {
    Record("View", key);
    return Missing("View");
  }
  Status Commit(const std::string& name, const std::string& key,
                const snapshots::Labels&) override {
    Record("Commit", key);
    return on_commit ? on_commit(name, key) : Missing("Commit");
  }
  Status Remove(const std::string& key) override {
    Record("Remove", key);
    return on_remove ? on_remove(key) : Missing("Remove");
  }
  Status Walk(const snapshots::WalkFn& fn, const std::vector<std::string>&) override {
    Record("Walk", "");
    for (const snapshots::Info& info : walk) BERTH_RETURN_IF_ERROR(fn(info));
    return Status::Ok();
  }

  std::vector<Call> calls() const BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return calls_;
  }

 private:
  static Status Missing(const char* method) {
    return Status::NotFound(std::string("fake: no hook for ") + method);
  }
  void Record(const char* method, const std::string& key) BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    calls_.push_back(Call{method, key, CurrentCall()});
  }

  mutable Mutex mu_;
  std::vector<Call> calls_ BERTH_GUARDED_BY(mu_);
};

}  // namespace berth::fakes

#endif  // BERTH_TESTS_FAKES_FAKE_SNAPSHOTTER_H_
