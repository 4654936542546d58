// HashWorker: a thread that feeds bytes to a Sha256 while the caller does
// something else with the same bytes (here: writes them to disk), so that an
// ingest costs max(hash, write) instead of their sum.
//
//   worker.Start(data, size);   // hashing begins on the worker thread
//   ... pwrite(data, size) ...
//   worker.Wait();              // REQUIRED before `data` or the hash is reused
//
// One owner thread calls Start/Wait in pairs. The Sha256 must not be touched
// between Start and Wait.
#ifndef BERTH_PLUGINS_CONTENT_LOCAL_HASH_WORKER_H_
#define BERTH_PLUGINS_CONTENT_LOCAL_HASH_WORKER_H_

#include <cstddef>
#include <thread>

#include "berth/digest.h"
#include "berth/mutex.h"

namespace berth::content_local {

class HashWorker {
 public:
  explicit HashWorker(Sha256& hash);
  ~HashWorker();  // stops the thread
  HashWorker(const HashWorker&) = delete;
  HashWorker& operator=(const HashWorker&) = delete;

  // REQUIRES: no Start without its Wait.
  void Start(const void* data, std::size_t size) BERTH_EXCLUDES(mu_);
  void Wait() BERTH_EXCLUDES(mu_);

 private:
  void Run() BERTH_EXCLUDES(mu_);

  Sha256& hash_;
  Mutex mu_;
  CondVar cv_;
  const void* data_ BERTH_GUARDED_BY(mu_) = nullptr;
  std::size_t size_ BERTH_GUARDED_BY(mu_) = 0;
  bool busy_ BERTH_GUARDED_BY(mu_) = false;  // a chunk is being hashed
  bool stop_ BERTH_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace berth::content_local

#endif  // BERTH_PLUGINS_CONTENT_LOCAL_HASH_WORKER_H_
