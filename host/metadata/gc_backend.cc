#include "metadata/gc_backend.h"

#include <utility>

namespace berth::host::metadata {

GcBackendRunner::Summary GcBackendRunner::Run(const std::map<std::string, Job>& jobs,
                                              std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  Summary summary;
  std::vector<std::pair<std::string, Slot*>> started;
  MutexLock lock(&mu_);
  if (stopped_) return summary;
  for (const auto& entry : jobs) {
    const std::string& name = entry.first;
    const Job& job = entry.second;
    std::unique_ptr<Slot>& slot = slots_[name];
    if (!slot) slot = std::make_unique<Slot>();
    if (slot->running) {
      summary.busy.push_back(name);
      continue;
    }
    if (slot->thread.joinable()) slot->thread.join();  // finished earlier
    slot->running = true;
    slot->outcome = Outcome{};
    Slot* s = slot.get();
    slot->thread = std::thread([this, s, job] {
      Outcome outcome = job();
      MutexLock done_lock(&mu_);
      s->outcome = std::move(outcome);
      s->running = false;
      done_.SignalAll();
    });
    started.emplace_back(name, s);
  }
  done_.WaitUntil(&mu_, deadline, [&] {
    for (const auto& [name, s] : started) {
      if (s->running) return false;
    }
    return true;
  });
  for (const auto& [name, slot] : slots_) {
    if (slot->running) summary.pending.push_back(name);
  }
  for (const auto& [name, s] : started) {
    if (s->running) continue;
    const Outcome& o = s->outcome;
    summary.total.blobs += o.blobs;
    summary.total.ingests += o.ingests;
    summary.total.snapshots += o.snapshots;
    summary.total.errors += o.errors;
    if (!o.status.ok()) summary.failed.push_back(name);
  }
  return summary;
}

void GcBackendRunner::Stop() {
  std::vector<std::thread> threads;
  {
    MutexLock lock(&mu_);
    stopped_ = true;
    for (auto& [name, slot] : slots_) {
      if (slot->thread.joinable()) threads.push_back(std::move(slot->thread));
    }
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace berth::host::metadata
