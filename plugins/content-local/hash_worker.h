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

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>

#include "berth/digest.h"

namespace berth::content_local {

class HashWorker {
 public:
  explicit HashWorker(Sha256& hash);
  ~HashWorker();  // stops the thread
  HashWorker(const HashWorker&) = delete;
  HashWorker& operator=(const HashWorker&) = delete;

  // REQUIRES: no Start without its Wait.
  void Start(const void* data, std::size_t size);
  void Wait();

 private:
  void Run();

  Sha256& hash_;
  std::mutex mu_;
  std::condition_variable cv_;
  const void* data_ = nullptr;  // guarded by mu_
  std::size_t size_ = 0;        // guarded by mu_
  bool busy_ = false;           // guarded by mu_: a chunk is being hashed
  bool stop_ = false;           // guarded by mu_
  std::thread thread_;
};

}  // namespace berth::content_local

#endif  // BERTH_PLUGINS_CONTENT_LOCAL_HASH_WORKER_H_
