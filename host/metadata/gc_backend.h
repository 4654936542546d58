// GcBackendRunner: runs each backend's part of a garbage collection (freeing
// blobs, ingests, snapshot storage) on a thread of its own, so that a backend
// that is slow or hangs (a proxy whose peer does not answer) holds up only
// itself. A collection starts one job per dirty backend, waits for them up to
// a bound and reports the rest as pending; no new job starts for a backend
// whose previous one is still running.
//
// Thread-safe. The destructor (and Stop) waits for running jobs, so the
// objects the jobs use must outlive the runner.
#ifndef BERTH_HOST_METADATA_GC_BACKEND_H_
#define BERTH_HOST_METADATA_GC_BACKEND_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include "berth/mutex.h"
#include <string>
#include <thread>
#include <vector>

#include "berth/status.h"

namespace berth::host::metadata {

class GcBackendRunner {
 public:
  // What one backend's job removed.
  struct Outcome {
    std::int64_t blobs = 0;
    std::int64_t ingests = 0;
    std::int64_t snapshots = 0;
    std::int64_t errors = 0;  // single removals that failed
    Status status;            // the job as a whole
  };
  using Job = std::function<Outcome()>;

  struct Summary {
    Outcome total;                     // the sum of the finished jobs
    std::vector<std::string> pending;  // still running at the bound (any run's job)
    std::vector<std::string> failed;   // finished with an error status
    std::vector<std::string> busy;     // not started: the last job still runs
  };

  GcBackendRunner() = default;
  ~GcBackendRunner() { Stop(); }
  GcBackendRunner(const GcBackendRunner&) = delete;
  GcBackendRunner& operator=(const GcBackendRunner&) = delete;

  // Runs `jobs` (backend name -> job), each on its own thread, and waits for
  // them until `bound` has passed.
  Summary Run(const std::map<std::string, Job>& jobs, std::chrono::milliseconds bound);
  // Waits for every running job; no job starts afterwards.
  void Stop();

 private:
  struct Slot {
    std::thread thread;
    bool running = false;
    Outcome outcome;
  };

  Mutex mu_;
  CondVar done_;
  // A slot's running and outcome are guarded by mu_ too.
  std::map<std::string, std::unique_ptr<Slot>> slots_ BERTH_GUARDED_BY(mu_);
  bool stopped_ BERTH_GUARDED_BY(mu_) = false;
};

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_GC_BACKEND_H_
