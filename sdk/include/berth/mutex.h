// Mutexes the thread-safety analysis understands (berth/thread_annotations.h):
// thin wrappers of std::mutex and std::shared_mutex, their scoped locks, and
// a condition variable over Mutex. libstdc++'s own types carry no
// annotations, so berth code guards its members with these.
//
//   berth::Mutex mu_;
//   int count_ BERTH_GUARDED_BY(mu_);
//   { berth::MutexLock lock(&mu_); ++count_; }
//
// Thread-safety: as the std types they wrap. Header only.
#ifndef BERTH_MUTEX_H_
#define BERTH_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "berth/thread_annotations.h"

namespace berth {

class BERTH_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() BERTH_ACQUIRE() { mu_.lock(); }
  void Unlock() BERTH_RELEASE() { mu_.unlock(); }
  bool TryLock() BERTH_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis that the caller holds the lock (checked by nothing).
  void AssertHeld() const BERTH_ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for its scope; Unlock and Lock may drop and retake it.
class BERTH_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) BERTH_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() BERTH_RELEASE() {
    if (held_) mu_->Unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() BERTH_RELEASE() {
    mu_->Unlock();
    held_ = false;
  }
  void Lock() BERTH_ACQUIRE() {
    mu_->Lock();
    held_ = true;
  }

 private:
  Mutex* const mu_;
  bool held_ = true;
};

// A reader-writer lock.
class BERTH_CAPABILITY("shared_mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() BERTH_ACQUIRE() { mu_.lock(); }
  void Unlock() BERTH_RELEASE() { mu_.unlock(); }
  void LockShared() BERTH_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void UnlockShared() BERTH_RELEASE_SHARED() { mu_.unlock_shared(); }
  void AssertHeld() const BERTH_ASSERT_CAPABILITY(this) {}

 private:
  std::shared_mutex mu_;
};

// Holds a SharedMutex exclusively for its scope.
class BERTH_SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) BERTH_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterLock() BERTH_RELEASE() { mu_->Unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// Holds a SharedMutex shared for its scope.
class BERTH_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) BERTH_ACQUIRE_SHARED(mu) : mu_(mu) { mu_->LockShared(); }
  ~ReaderLock() BERTH_RELEASE() { mu_->UnlockShared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// A condition variable whose waits take a held berth::Mutex.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Releases `mu` while waiting; holds it again on return (spurious wake-ups
  // possible: wait in a loop, or use the predicate forms).
  void Wait(Mutex* mu) BERTH_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // The predicate runs with `mu` held; annotate it BERTH_REQUIRES(<the mutex>).
  template <typename Pred>
  void Wait(Mutex* mu, Pred pred) BERTH_REQUIRES(mu) BERTH_NO_THREAD_SAFETY_ANALYSIS {
    while (!pred()) Wait(mu);
  }
  // Returns pred()'s value at the end: false when `deadline` passed first.
  template <typename Clock, typename Duration, typename Pred>
  bool WaitUntil(Mutex* mu, const std::chrono::time_point<Clock, Duration>& deadline, Pred pred)
      BERTH_REQUIRES(mu) BERTH_NO_THREAD_SAFETY_ANALYSIS {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    bool ok = cv_.wait_until(lock, deadline, pred);
    lock.release();
    return ok;
  }
  template <typename Rep, typename Period, typename Pred>
  bool WaitFor(Mutex* mu, const std::chrono::duration<Rep, Period>& timeout, Pred pred)
      BERTH_REQUIRES(mu) BERTH_NO_THREAD_SAFETY_ANALYSIS {
    return WaitUntil(mu, std::chrono::steady_clock::now() + timeout, pred);
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace berth

#endif  // BERTH_MUTEX_H_
