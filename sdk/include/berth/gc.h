// Garbage collection: the interfaces between the metadata store (which knows
// what is referenced and collects the rest) and the io.containerd.gc.v1
// scheduler (which decides when).
//
// The metadata plugin (io.containerd.metadata.v1.leveldb) implements
// GarbageCollector; the gc-scheduler plugin (io.containerd.gc.v1.scheduler)
// implements GcScheduler and requires the metadata plugin. Both are
// thread-safe.
#ifndef BERTH_GC_H_
#define BERTH_GC_H_

#include <chrono>
#include <cstdint>
#include <functional>

#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {
namespace gc {

// What one collection did and how long each phase took.
struct Stats {
  std::chrono::nanoseconds mark{0};     // finding what is referenced
  std::chrono::nanoseconds sweep{0};    // removing records (one batch)
  std::chrono::nanoseconds backend{0};  // removing blobs / snapshots after
  std::int64_t content_removed = 0;     // blobs whose last record went
  std::int64_t ingests_removed = 0;
  std::int64_t snapshots_removed = 0;   // backend snapshots removed
  std::int64_t leases_removed = 0;      // expired leases
  std::int64_t records_removed = 0;     // metadata records in the sweep batch
  std::int64_t backends_pending = 0;    // backend cleanups still running at return
  std::int64_t backend_errors = 0;      // backend removals that failed (retried)
  std::chrono::nanoseconds Elapsed() const { return mark + sweep + backend; }
  // How long changes to the metadata were held up (reads never are).
  std::chrono::nanoseconds Pause() const { return mark + sweep; }
};

}  // namespace gc

// Collects what nothing refers to. Implemented by the metadata plugin.
class GarbageCollector : public virtual Plugin {
 public:
  ~GarbageCollector() override;

  // Runs one mark-and-sweep now and returns its figures. Concurrent calls are
  // serialised.
  virtual Result<gc::Stats> GarbageCollect() = 0;

  // Registers `fn`, called after every committed metadata change with
  // `deletion` true when the change removed a reference (a record, a lease,
  // a label), so that collecting might free something. Called on the
  // changing thread after the change is durable, with no lock held; it must
  // be quick (schedule, do not collect). Register before serving starts.
  virtual void OnMutation(std::function<void(bool deletion)> fn) = 0;
};

// Decides when to collect. Implemented by the gc-scheduler plugin.
class GcScheduler : public virtual Plugin {
 public:
  ~GcScheduler() override;

  // Asks for a collection soon (after schedule_delay) and returns at once.
  virtual void Schedule() = 0;
  // Asks for a collection and waits for the next run that starts after the
  // call; returns that run's figures (or its error).
  virtual Result<gc::Stats> ScheduleAndWait() = 0;
};

}  // namespace berth

#endif  // BERTH_GC_H_
