// Locality: whether a backend's calls may wait on another process. A proxy
// plugin's calls wait on its gRPC peer, which may hang; an in-process
// backend's cheap reads (a record lookup, a stat(2)) do not. Servers run
// such reads on the event loop's own thread when the backend is local, and
// hand everything else to the executor (berth/executor.h), so that the
// cheap calls pay no thread hop and no peer can hold the loop.
//
// A backend that calls out implements RemoteBackend; a wrapper (a
// namespaced view, a publishing decorator) implements it by asking what it
// wraps. Anything else counts as local. Thread-safe (pure functions).
#ifndef BERTH_LOCALITY_H_
#define BERTH_LOCALITY_H_

namespace berth {

class RemoteBackend {
 public:
  virtual ~RemoteBackend();
  // True when a call may wait on another process.
  virtual bool CallsAnotherProcess() const = 0;
};

// What `backend` says through RemoteBackend; false when it does not
// implement it.
template <typename T>
bool CallsAnotherProcess(const T& backend) {
  const auto* remote = dynamic_cast<const RemoteBackend*>(&backend);
  return remote != nullptr && remote->CallsAnotherProcess();
}

}  // namespace berth

#endif  // BERTH_LOCALITY_H_
